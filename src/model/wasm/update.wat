;; The optimisers in WebAssembly SIMD: each call adds the gradient slots it is given over
;; parameters [from, to) and applies SGD, momentum or Adam there, in the process's shared
;; memory. Below them, the additions of the reduction tree (src/train/reduction-tree.ts)
;; and the parameter warm-up read.
;; Assembled at build time like kernel.wat; float32 arithmetic throughout (optimizer.ts
;; adds the slots in float32 too, then works in float64), about 10x faster than the JS.
;;
;; Each element's arithmetic depends on nothing but its own index, so which thread updates
;; which range never changes a bit. Whole quads go four lanes at a time, written out in
;; the loop (a helper call per quad would cost more than the arithmetic, and Node 20's V8
;; does not inline wasm calls); the last 1-3 elements of a range go one at a time through
;; the helpers below, which do the same f32x4 arithmetic on lane 0 (load32_zero,
;; store32_lane). A test checks the two paths agree bit for bit.
;;
;; Optimiser state that decays towards zero (m, v, velocity) is flushed to 0 once it falls
;; below the smallest normal float32 (2^-126): x86 computes on subnormals with microcode
;; assists, and a weight whose pixel is rarely lit would otherwise pay one every step. Adam's
;; m and momentum's velocity are flushed sooner, once the product the step takes of them
;; (Adam's stepSize times m, lr times the velocity) would be subnormal, which costs the same
;; assists: an update over such m took 268 µs instead of 9.5, and as the learning rate decays
;; more m fall there (the default recipe's 200th epoch ran at 395,000 samples/s instead of
;; 1,012,000). Such a step is under 2^-125 / eps (momentum: 2^-125): it moves no weight that
;; is nonzero and above about 2^-101 / eps in size, while eps is of ordinary size (1e-8 by
;; default), so the weights come out the same bit for bit (200 epochs of the default recipe:
;; every weight and loss as before). The state does not: a flushed m is 0, and the m that
;; follow it differ from the unflushed ones by about as little.

(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; scale * (slot 0 + slot 1 + ...) of the element at byte offset $at, in lane 0.
  (func $gradOne (param $grads i32) (param $slots i32) (param $slotBytes i32) (param $at i32) (param $scale f32) (result v128)
    (local $g v128) (local $s i32) (local $addr i32)
    (local.set $addr (i32.add (local.get $grads) (local.get $at)))
    (local.set $g (v128.load32_zero (local.get $addr)))
    (local.set $s (i32.const 1))
    (block $done
      (loop $sum
        (br_if $done (i32.ge_u (local.get $s) (local.get $slots)))
        (local.set $addr (i32.add (local.get $addr) (local.get $slotBytes)))
        (local.set $g (f32x4.add (local.get $g) (v128.load32_zero (local.get $addr))))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $sum)))
    (f32x4.mul (local.get $g) (f32x4.splat (local.get $scale))))

  ;; v, with lanes whose magnitude is below $floor set to 0.
  (func $flush (param $v v128) (param $floor v128) (result v128)
    (v128.and (local.get $v) (f32x4.ge (f32x4.abs (local.get $v)) (local.get $floor))))
  ;; The smallest normal float32 in every lane: v's floor.
  (func $normal (result v128) (v128.const f32x4 0x1p-126 0x1p-126 0x1p-126 0x1p-126))
  ;; The floor for state that a step multiplies by $rate (Adam's stepSize, momentum's lr):
  ;; where rate * x would be subnormal, x counts as 0 (2^-125, so rounding cannot leave the
  ;; product just under 2^-126). Never below 2^-126.
  (func $stepFloor (param $rate f32) (result v128)
    (f32x4.splat (f32.max (f32.const 0x1p-126) (f32.div (f32.const 0x1p-125) (local.get $rate)))))

  ;; SGD: p -= lr * g.
  (func (export "updateSgd") (param $params i32) (param $grads i32) (param $slots i32) (param $slotBytes i32)
    (param $from i32) (param $to i32) (param $scale f32) (param $lr f32)
    (local $at i32) (local $end i32) (local $end4 i32) (local $g v128) (local $p i32) (local $s i32) (local $addr i32)
    (local $scalev v128) (local $lrv v128)
    (local.set $scalev (f32x4.splat (local.get $scale)))
    (local.set $lrv (f32x4.splat (local.get $lr)))
    (local.set $at (i32.shl (local.get $from) (i32.const 2)))
    (local.set $end (i32.shl (local.get $to) (i32.const 2)))
    (local.set $end4 (i32.add (local.get $at) (i32.and (i32.sub (local.get $end) (local.get $at)) (i32.const -16))))
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.ge_u (local.get $at) (local.get $end4)))
        (local.set $addr (i32.add (local.get $grads) (local.get $at)))
        (local.set $g (v128.load (local.get $addr)))
        (local.set $s (i32.const 1))
        (block $sumDone
          (loop $sum
            (br_if $sumDone (i32.ge_u (local.get $s) (local.get $slots)))
            (local.set $addr (i32.add (local.get $addr) (local.get $slotBytes)))
            (local.set $g (f32x4.add (local.get $g) (v128.load (local.get $addr))))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $sum)))
        (local.set $p (i32.add (local.get $params) (local.get $at)))
        (v128.store (local.get $p) (f32x4.sub (v128.load (local.get $p)) (f32x4.mul (local.get $lrv) (f32x4.mul (local.get $g) (local.get $scalev)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $quads)))
    (block $done
      (loop $ones
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $g (call $gradOne (local.get $grads) (local.get $slots) (local.get $slotBytes) (local.get $at) (local.get $scale)))
        (local.set $p (i32.add (local.get $params) (local.get $at)))
        (v128.store32_lane 0 (local.get $p) (f32x4.sub (v128.load32_zero (local.get $p)) (f32x4.mul (local.get $lrv) (local.get $g))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $ones))))

  ;; Momentum (PyTorch's): v = mu * v + g; p -= lr * v.
  (func (export "updateMomentum") (param $params i32) (param $grads i32) (param $slots i32) (param $slotBytes i32)
    (param $velocity i32) (param $from i32) (param $to i32) (param $scale f32) (param $lr f32) (param $mu f32)
    (local $at i32) (local $end i32) (local $end4 i32) (local $g v128) (local $v v128) (local $p i32) (local $va i32)
    (local $s i32) (local $addr i32) (local $scalev v128) (local $lrv v128) (local $muv v128) (local $floor v128)
    (local.set $scalev (f32x4.splat (local.get $scale)))
    (local.set $lrv (f32x4.splat (local.get $lr)))
    (local.set $muv (f32x4.splat (local.get $mu)))
    (local.set $floor (call $stepFloor (local.get $lr)))
    (local.set $at (i32.shl (local.get $from) (i32.const 2)))
    (local.set $end (i32.shl (local.get $to) (i32.const 2)))
    (local.set $end4 (i32.add (local.get $at) (i32.and (i32.sub (local.get $end) (local.get $at)) (i32.const -16))))
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.ge_u (local.get $at) (local.get $end4)))
        (local.set $addr (i32.add (local.get $grads) (local.get $at)))
        (local.set $g (v128.load (local.get $addr)))
        (local.set $s (i32.const 1))
        (block $sumDone
          (loop $sum
            (br_if $sumDone (i32.ge_u (local.get $s) (local.get $slots)))
            (local.set $addr (i32.add (local.get $addr) (local.get $slotBytes)))
            (local.set $g (f32x4.add (local.get $g) (v128.load (local.get $addr))))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $sum)))
        (local.set $g (f32x4.mul (local.get $g) (local.get $scalev)))
        (local.set $va (i32.add (local.get $velocity) (local.get $at)))
        (local.set $v (f32x4.add (f32x4.mul (local.get $muv) (v128.load (local.get $va))) (local.get $g)))
        (local.set $v (v128.and (local.get $v) (f32x4.ge (f32x4.abs (local.get $v)) (local.get $floor))))
        (v128.store (local.get $va) (local.get $v))
        (local.set $p (i32.add (local.get $params) (local.get $at)))
        (v128.store (local.get $p) (f32x4.sub (v128.load (local.get $p)) (f32x4.mul (local.get $lrv) (local.get $v))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $quads)))
    (block $done
      (loop $ones
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $g (call $gradOne (local.get $grads) (local.get $slots) (local.get $slotBytes) (local.get $at) (local.get $scale)))
        (local.set $va (i32.add (local.get $velocity) (local.get $at)))
        (local.set $v (call $flush (f32x4.add (f32x4.mul (local.get $muv) (v128.load32_zero (local.get $va))) (local.get $g)) (local.get $floor)))
        (v128.store32_lane 0 (local.get $va) (local.get $v))
        (local.set $p (i32.add (local.get $params) (local.get $at)))
        (v128.store32_lane 0 (local.get $p) (f32x4.sub (v128.load32_zero (local.get $p)) (f32x4.mul (local.get $lrv) (local.get $v))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $ones))))

  ;; Adam for one element in lane 0: updates m, v and p at byte offset $at (the quad loop
  ;; of updateAdam does the same arithmetic written out).
  (func $adamOne (param $at i32) (param $params i32) (param $m i32) (param $v i32) (param $g v128)
    (param $b1 v128) (param $c1 v128) (param $b2 v128) (param $c2 v128) (param $stepSize v128) (param $corr v128) (param $eps v128)
    (param $mFloor v128)
    (local $mk v128) (local $vk v128) (local $addr i32)
    (local.set $addr (i32.add (local.get $m) (local.get $at)))
    (local.set $mk (call $flush (f32x4.add (f32x4.mul (local.get $b1) (v128.load32_zero (local.get $addr)))
      (f32x4.mul (local.get $c1) (local.get $g))) (local.get $mFloor)))
    (v128.store32_lane 0 (local.get $addr) (local.get $mk))
    (local.set $addr (i32.add (local.get $v) (local.get $at)))
    (local.set $vk (call $flush (f32x4.add (f32x4.mul (local.get $b2) (v128.load32_zero (local.get $addr)))
      (f32x4.mul (f32x4.mul (local.get $c2) (local.get $g)) (local.get $g))) (call $normal)))
    (v128.store32_lane 0 (local.get $addr) (local.get $vk))
    (local.set $addr (i32.add (local.get $params) (local.get $at)))
    (v128.store32_lane 0 (local.get $addr) (f32x4.sub (v128.load32_zero (local.get $addr))
      (f32x4.div (f32x4.mul (local.get $stepSize) (local.get $mk))
        (f32x4.add (f32x4.sqrt (f32x4.mul (local.get $vk) (local.get $corr))) (local.get $eps))))))

  ;; Adam: m = b1 m + c1 g; v = b2 v + c2 g g; p -= stepSize m / (sqrt(v corr) + eps), where
  ;; the caller computes c1 = 1 - b1, c2 = 1 - b2, stepSize = lr / (1 - b1^t), corr = 1 / (1 - b2^t).
  (func (export "updateAdam") (param $params i32) (param $grads i32) (param $slots i32) (param $slotBytes i32)
    (param $m i32) (param $v i32) (param $from i32) (param $to i32) (param $scale f32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32) (param $stepSize f32) (param $corr f32) (param $eps f32)
    (local $at i32) (local $end i32) (local $end4 i32) (local $g v128) (local $mk v128) (local $vk v128)
    (local $s i32) (local $addr i32) (local $p i32)
    (local $scalev v128) (local $b1v v128) (local $c1v v128) (local $b2v v128) (local $c2v v128)
    (local $stepv v128) (local $corrv v128) (local $epsv v128) (local $mFloor v128)
    (local.set $scalev (f32x4.splat (local.get $scale)))
    (local.set $b1v (f32x4.splat (local.get $b1)))
    (local.set $c1v (f32x4.splat (local.get $c1)))
    (local.set $b2v (f32x4.splat (local.get $b2)))
    (local.set $c2v (f32x4.splat (local.get $c2)))
    (local.set $stepv (f32x4.splat (local.get $stepSize)))
    (local.set $corrv (f32x4.splat (local.get $corr)))
    (local.set $epsv (f32x4.splat (local.get $eps)))
    (local.set $mFloor (call $stepFloor (local.get $stepSize)))
    (local.set $at (i32.shl (local.get $from) (i32.const 2)))
    (local.set $end (i32.shl (local.get $to) (i32.const 2)))
    (local.set $end4 (i32.add (local.get $at) (i32.and (i32.sub (local.get $end) (local.get $at)) (i32.const -16))))
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.ge_u (local.get $at) (local.get $end4)))
        (local.set $addr (i32.add (local.get $grads) (local.get $at)))
        (local.set $g (v128.load (local.get $addr)))
        (local.set $s (i32.const 1))
        (block $sumDone
          (loop $sum
            (br_if $sumDone (i32.ge_u (local.get $s) (local.get $slots)))
            (local.set $addr (i32.add (local.get $addr) (local.get $slotBytes)))
            (local.set $g (f32x4.add (local.get $g) (v128.load (local.get $addr))))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $sum)))
        (local.set $g (f32x4.mul (local.get $g) (local.get $scalev)))
        (local.set $addr (i32.add (local.get $m) (local.get $at)))
        (local.set $mk (f32x4.add (f32x4.mul (local.get $b1v) (v128.load (local.get $addr))) (f32x4.mul (local.get $c1v) (local.get $g))))
        (local.set $mk (v128.and (local.get $mk) (f32x4.ge (f32x4.abs (local.get $mk)) (local.get $mFloor))))
        (v128.store (local.get $addr) (local.get $mk))
        (local.set $addr (i32.add (local.get $v) (local.get $at)))
        (local.set $vk (f32x4.add (f32x4.mul (local.get $b2v) (v128.load (local.get $addr)))
          (f32x4.mul (f32x4.mul (local.get $c2v) (local.get $g)) (local.get $g))))
        (local.set $vk (v128.and (local.get $vk)
          (f32x4.ge (f32x4.abs (local.get $vk)) (v128.const f32x4 0x1p-126 0x1p-126 0x1p-126 0x1p-126))))
        (v128.store (local.get $addr) (local.get $vk))
        (local.set $p (i32.add (local.get $params) (local.get $at)))
        (v128.store (local.get $p) (f32x4.sub (v128.load (local.get $p))
          (f32x4.div (f32x4.mul (local.get $stepv) (local.get $mk))
            (f32x4.add (f32x4.sqrt (f32x4.mul (local.get $vk) (local.get $corrv))) (local.get $epsv)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $quads)))
    (block $done
      (loop $ones
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (call $adamOne (local.get $at) (local.get $params) (local.get $m) (local.get $v)
          (call $gradOne (local.get $grads) (local.get $slots) (local.get $slotBytes) (local.get $at) (local.get $scale))
          (local.get $b1v) (local.get $c1v) (local.get $b2v) (local.get $c2v) (local.get $stepv) (local.get $corrv) (local.get $epsv)
          (local.get $mFloor))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $ones))))
;; The reduction tree's additions (reduction-tree.ts): dst = a + b over $bytes bytes of
  ;; float32 (a multiple of 4; the last 1-3 floats one at a time); dst += src is sum(dst, dst, src).
  (func (export "sum") (param $dst i32) (param $a i32) (param $b i32) (param $bytes i32)
    (local $end i32) (local $end4 i32)
    (local.set $end (i32.add (local.get $dst) (local.get $bytes)))
    (local.set $end4 (i32.add (local.get $dst) (i32.and (local.get $bytes) (i32.const -16))))
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.ge_u (local.get $dst) (local.get $end4)))
        (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $quads)))
    (block $done
      (loop $ones
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst) (f32.add (f32.load (local.get $a)) (f32.load (local.get $b))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br $ones))))

  ;; Reads one float of every 64-byte line of [$from, $from + $bytes): a training thread
  ;; calls it on the parameters at the start of its share of a step, so the lines the other
  ;; cores just updated stream in together instead of one cache miss at a time in the kernel.
  (global $sink (mut i32) (i32.const 0))
  (func (export "warm") (param $from i32) (param $bytes i32)
    (local $end i32) (local $sink i32)
    (local.set $end (i32.add (local.get $from) (local.get $bytes)))
    (block $done
      (loop $lines
        (br_if $done (i32.ge_u (local.get $from) (local.get $end)))
        (local.set $sink (i32.or (local.get $sink) (i32.load (local.get $from))))
        (local.set $from (i32.add (local.get $from) (i32.const 64)))
        (br $lines)))
    (global.set $sink (local.get $sink)))
)
