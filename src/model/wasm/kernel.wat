;; The MLP training kernel in WebAssembly SIMD: forward, backward, fused SGD and evaluation,
;; over data and parameters in the process's shared memory (the optimisers: update.wat).
;;
;; Assembled at build time (src/model/wasm/assemble.ts). All pointers are byte offsets into
;; the imported shared memory. The layer table, pixel table and per-sample blocks live in a
;; per-thread scratch region laid out by scratch-layout.ts and handed over once by `init`;
;; they are kept in globals, which belong to the instance (one per kernel per thread).
;;
;; Numerics follow the JS kernels in kernels.ts: float32 weights and activations, float64
;; softmax and loss (log is JS's own Math.log, imported: once per sample; exp is $expF64x2
;; below, within an ulp of Math.exp). The weight-gradient products round to float32 before
;; they are added, as in JS, so a gradient differs from the JS one only through the
;; float32 (not float64) sums of the forward pass and of the hidden deltas, and through
;; probabilities under 2^-64, which count as 0 (see $outputDelta). One more: a layer of 9-12
;; outputs adds a zero input's row too, so a non-finite weight there gives NaN where JS
;; skips it (a run that far gone has diverged anyway, and checkpoints refuse such weights).
(module
  (import "env" "memory" (memory 1 65536 shared))
  (import "Math" "log" (func $log (param f64) (result f64)))

  ;; Layer table: 8 i32 per layer, at $table + 32 * layer (see scratch-layout.ts).
  ;;   +0 inputs  +4 outputs  +8 weight offset  +12 bias offset (bytes from params)
  ;;   +16 input activations  +20 output activations  +24 input delta  +28 output delta
  ;;   (bytes from the sample's block)
  (global $layers (mut i32) (i32.const 0))
  (global $table (mut i32) (i32.const 0))
  ;; Per-sample blocks (activations and deltas of every layer), $stride bytes apart.
  (global $blocks (mut i32) (i32.const 0))
  (global $stride (mut i32) (i32.const 0))
  ;; How many blocks there are: gradient() runs the forward passes of this many samples,
  ;; then their backward passes.
  (global $chunk (mut i32) (i32.const 0))
  ;; 256 floats: pixel byte -> input value (kernels.ts PIXEL_VALUE), so no division per pixel.
  (global $pix (mut i32) (i32.const 0))
  ;; f64 per class: exp(logit - max) of the last forward pass.
  (global $exps (mut i32) (i32.const 0))
  (global $expSum (mut f64) (f64.const 0))
  ;; The scaled output delta (coef * delta) of the layer being back-propagated.
  (global $sd (mut i32) (i32.const 0))
  ;; f64[2]: evaluate's running loss sum and correct count.
  (global $totals (mut i32) (i32.const 0))
  (global $paramBytes (mut i32) (i32.const 0))
  ;; 1 when the first layer is 16 wide: its rows then stay in four f32x4 registers.
  (global $fast (mut i32) (i32.const 0))
  ;; Where $touch leaves what it read.
  (global $sink (mut i32) (i32.const 0))

  (func (export "init")
    (param $layers i32) (param $table i32) (param $blocks i32) (param $stride i32) (param $chunk i32)
    (param $pix i32) (param $exps i32) (param $sd i32) (param $totals i32) (param $paramBytes i32)
    (global.set $layers (local.get $layers))
    (global.set $table (local.get $table))
    (global.set $blocks (local.get $blocks))
    (global.set $stride (local.get $stride))
    (global.set $chunk (local.get $chunk))
    (global.set $pix (local.get $pix))
    (global.set $exps (local.get $exps))
    (global.set $sd (local.get $sd))
    (global.set $totals (local.get $totals))
    (global.set $paramBytes (local.get $paramBytes))
    (global.set $fast (i32.eq (i32.load offset=4 (local.get $table)) (i32.const 16))))

  ;; dst[0..n) += x * src[0..n): four lanes at a time, then the tail one at a time.
  (func $axpy (param $dst i32) (param $src i32) (param $n i32) (param $x f32)
    (local $xv v128) (local $end4 i32) (local $end i32)
    (local.set $xv (f32x4.splat (local.get $x)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.ge_u (local.get $dst) (local.get $end4)))
        (v128.store (local.get $dst)
          (f32x4.add (v128.load (local.get $dst)) (f32x4.mul (local.get $xv) (v128.load (local.get $src)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $quads)))
    (block $done
      (loop $ones
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst)
          (f32.add (f32.load (local.get $dst)) (f32.mul (local.get $x) (f32.load (local.get $src)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $ones))))

  ;; dst[0..n) = src[0..n).
  (func $copy (param $dst i32) (param $src i32) (param $n i32)
    (local $end4 i32) (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.ge_u (local.get $dst) (local.get $end4)))
        (v128.store (local.get $dst) (v128.load (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $quads)))
    (block $done
      (loop $ones
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst) (f32.load (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $ones))))

  ;; exp of two f64 at once, for x <= 0 (softmax's logit - max): relative error about
  ;; 1e-16, like JS's Math.exp, which a call out to JS per class would cost ~7 ns for.
  ;; x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, so n ln2 is exact), e^r by its
  ;; Taylor series to r^13 (remainder < 4e-18), times 2^n built in the exponent bits.
  ;; Below -708 (e^x < 1e-307) x is clamped, so 2^n stays normal; NaN passes through.
  (func $expF64x2 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f64x2.pmax (local.get $x) (f64x2.splat (f64.const -708))))
    (local.set $n (f64x2.nearest (f64x2.mul (local.get $x) (f64x2.splat (f64.const 0x1.71547652b82fep0)))))
    (local.set $r (f64x2.sub
      (f64x2.sub (local.get $x) (f64x2.mul (local.get $n) (f64x2.splat (f64.const 0x1.62e42feep-1))))
      (f64x2.mul (local.get $n) (f64x2.splat (f64.const 0x1.a39ef35793c76p-33)))))
    (local.set $p (f64x2.splat (f64.const 0x1.6124613a86d09p-33))) ;; 1/13!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0x1.1eed8eff8d898p-29)))) ;; 1/12!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0x1.ae64567f544e4p-26)))) ;; 1/11!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0x1.27e4fb7789f5cp-22)))) ;; 1/10!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0x1.71de3a556c734p-19)))) ;; 1/9!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0x1.a01a01a01a01ap-16)))) ;; 1/8!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0x1.a01a01a01a01ap-13)))) ;; 1/7!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0x1.6c16c16c16c17p-10)))) ;; 1/6!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0x1.1111111111111p-7)))) ;; 1/5!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0x1.5555555555555p-5)))) ;; 1/4!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0x1.5555555555555p-3)))) ;; 1/3!
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 0.5))))
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 1))))
    (local.set $p (f64x2.add (f64x2.mul (local.get $p) (local.get $r)) (f64x2.splat (f64.const 1))))
    ;; 2^n: n + 1.5 * 2^52 holds n in its low mantissa bits; add the exponent bias and shift
    ;; it into place (the shift drops everything above the low 12 bits).
    (f64x2.mul (local.get $p)
      (i64x2.shl
        (i64x2.add (f64x2.add (local.get $n) (f64x2.splat (f64.const 0x1.8p52))) (i64x2.splat (i64.const 1023)))
        (i32.const 52))))

  ;; Forward pass of one sample into its block; leaves exp(logit - max) in $exps and their
  ;; sum in $expSum, and returns log-sum-exp of the logits.
  (func $forward (param $params i32) (param $offsets i32) (param $entries i32) (param $sample i32) (param $block i32) (result f64)
    (local $t i32) (local $n i32) (local $w i32) (local $out i32) (local $x i32)
    (local $e i32) (local $end i32) (local $entry i32) (local $xv v128)
    (local $z0 v128) (local $z1 v128) (local $z2 v128) (local $z3 v128)
    (local $l i32) (local $inputs i32) (local $i i32) (local $xi f32) (local $rowBytes i32)
    (local $quadBytes i32) (local $row i32) (local $j i32)
    (local $c i32) (local $max f64) (local $v f64) (local $sum f64)
    (local $pixTable i32)
    ;; In a local: V8 reloads a mutable global from the instance at every read, once per
    ;; pixel in the loops below (+4% samples/s at batch 64).
    (local.set $pixTable (global.get $pix))
    ;; First layer: bias plus the rows of the sample's nonzero pixels.
    (local.set $t (global.get $table))
    (local.set $n (i32.load offset=4 (local.get $t)))
    (local.set $w (i32.add (local.get $params) (i32.load offset=8 (local.get $t))))
    (local.set $out (i32.add (local.get $block) (i32.load offset=20 (local.get $t))))
    (local.set $e (i32.add (local.get $entries)
      (i32.shl (i32.load (i32.add (local.get $offsets) (i32.shl (local.get $sample) (i32.const 2)))) (i32.const 2))))
    (local.set $end (i32.add (local.get $entries)
      (i32.shl (i32.load offset=4 (i32.add (local.get $offsets) (i32.shl (local.get $sample) (i32.const 2)))) (i32.const 2))))
    (if (global.get $fast)
      (then
        ;; 16 wide: the sums stay in registers; a row is 64 bytes, four loads.
        (local.set $x (i32.add (local.get $params) (i32.load offset=12 (local.get $t))))
        (local.set $z0 (v128.load (local.get $x)))
        (local.set $z1 (v128.load offset=16 (local.get $x)))
        (local.set $z2 (v128.load offset=32 (local.get $x)))
        (local.set $z3 (v128.load offset=48 (local.get $x)))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $e) (local.get $end)))
            (local.set $entry (i32.load (local.get $e)))
            (local.set $xv (v128.load32_splat
              (i32.add (local.get $pixTable) (i32.shl (i32.and (local.get $entry) (i32.const 255)) (i32.const 2)))))
            (local.set $x (i32.add (local.get $w) (i32.shl (i32.shr_u (local.get $entry) (i32.const 8)) (i32.const 6))))
            (local.set $z0 (f32x4.add (local.get $z0) (f32x4.mul (local.get $xv) (v128.load (local.get $x)))))
            (local.set $z1 (f32x4.add (local.get $z1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $x)))))
            (local.set $z2 (f32x4.add (local.get $z2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $x)))))
            (local.set $z3 (f32x4.add (local.get $z3) (f32x4.mul (local.get $xv) (v128.load offset=48 (local.get $x)))))
            (local.set $e (i32.add (local.get $e) (i32.const 4)))
            (br $rows)))
        (v128.store (local.get $out) (local.get $z0))
        (v128.store offset=16 (local.get $out) (local.get $z1))
        (v128.store offset=32 (local.get $out) (local.get $z2))
        (v128.store offset=48 (local.get $out) (local.get $z3)))
      (else
        (call $copy (local.get $out) (i32.add (local.get $params) (i32.load offset=12 (local.get $t))) (local.get $n))
        ;; Any width: out += x * row by quads, then the tail one by one (written out: a
        ;; call per pixel would spill every live value).
        (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
        (local.set $quadBytes (i32.and (local.get $rowBytes) (i32.const -16)))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $e) (local.get $end)))
            (local.set $entry (i32.load (local.get $e)))
            (local.set $xi (f32.load (i32.add (local.get $pixTable) (i32.shl (i32.and (local.get $entry) (i32.const 255)) (i32.const 2)))))
            (local.set $xv (f32x4.splat (local.get $xi)))
            (local.set $row (i32.add (local.get $w) (i32.mul (i32.shr_u (local.get $entry) (i32.const 8)) (local.get $rowBytes))))
            (local.set $j (i32.const 0))
            (block $quadsDone
              (loop $quads
                (br_if $quadsDone (i32.ge_u (local.get $j) (local.get $quadBytes)))
                (v128.store (i32.add (local.get $out) (local.get $j))
                  (f32x4.add (v128.load (i32.add (local.get $out) (local.get $j)))
                    (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $row) (local.get $j))))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $quads)))
            (block $onesDone
              (loop $ones
                (br_if $onesDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
                (f32.store (i32.add (local.get $out) (local.get $j))
                  (f32.add (f32.load (i32.add (local.get $out) (local.get $j)))
                    (f32.mul (local.get $xi) (f32.load (i32.add (local.get $row) (local.get $j))))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $ones)))
            (local.set $e (i32.add (local.get $e) (i32.const 4)))
            (br $rows)))))
    ;; Later layers: ReLU of the layer below (in place, so backward sees it), then bias
    ;; plus the rows of the nonzero inputs (of every input, in a layer of 9-12 outputs).
    (local.set $l (i32.const 1))
    (block $layersDone
      (loop $layerLoop
        (br_if $layersDone (i32.ge_u (local.get $l) (global.get $layers)))
        (local.set $t (i32.add (global.get $table) (i32.shl (local.get $l) (i32.const 5))))
        (local.set $inputs (i32.load (local.get $t)))
        (local.set $n (i32.load offset=4 (local.get $t)))
        (local.set $w (i32.add (local.get $params) (i32.load offset=8 (local.get $t))))
        (local.set $x (i32.add (local.get $block) (i32.load offset=16 (local.get $t))))
        (local.set $out (i32.add (local.get $block) (i32.load offset=20 (local.get $t))))
        (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
        ;; Activation areas are padded to whole f32x4s (kept zero), so ReLU runs by quads.
        ;; pmax(x, 0) is `x < 0 ? 0 : x`, as in JS: NaN and -0 pass through.
        (local.set $i (i32.const 0))
        (block $reluDone
          (loop $relu
            (br_if $reluDone (i32.ge_u (local.get $i) (local.get $inputs)))
            (v128.store (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))
              (f32x4.pmax (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))) (v128.const f32x4 0 0 0 0)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $relu)))
        (call $copy (local.get $out) (i32.add (local.get $params) (i32.load offset=12 (local.get $t))) (local.get $n))
        (if (i32.and (i32.gt_u (local.get $n) (i32.const 8)) (i32.le_u (local.get $n) (i32.const 12)))
          (then
            ;; 9-12 outputs (MNIST's 10 classes): the sums stay in three f32x4 registers, and
            ;; every row is added, a zero input's too (0 * w leaves a nonzero sum as it was,
            ;; though a -0 sum becomes +0 and an infinite w gives NaN; a branch per input,
            ;; taken for ReLU's zeros about half the time, mispredicted often enough to cost
            ;; 4% of samples/s). A row's third quad reads up to 3 floats past it (the next
            ;; row's, or the bias after the last row); those lanes are masked to zero before
            ;; the store, so the padding stays zero.
            (local.set $z0 (v128.load (local.get $out)))
            (local.set $z1 (v128.load offset=16 (local.get $out)))
            (local.set $z2 (v128.load offset=32 (local.get $out)))
            (local.set $row (local.get $w))
            (local.set $i (i32.const 0))
            (block $narrowDone
              (loop $narrow
                (br_if $narrowDone (i32.ge_u (local.get $i) (local.get $inputs)))
                (local.set $xv (v128.load32_splat (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
                (local.set $z0 (f32x4.add (local.get $z0) (f32x4.mul (local.get $xv) (v128.load (local.get $row)))))
                (local.set $z1 (f32x4.add (local.get $z1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $row)))))
                (local.set $z2 (f32x4.add (local.get $z2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $row)))))
                (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $narrow)))
            (v128.store (local.get $out) (local.get $z0))
            (v128.store offset=16 (local.get $out) (local.get $z1))
            (v128.store offset=32 (local.get $out) (v128.and (local.get $z2)
              (i32x4.lt_s (v128.const i32x4 0 1 2 3) (i32x4.splat (i32.sub (local.get $n) (i32.const 8)))))))
          (else
            (local.set $quadBytes (i32.and (local.get $rowBytes) (i32.const -16)))
            (local.set $i (i32.const 0))
            (block $inputsDone
              (loop $inputLoop
                (br_if $inputsDone (i32.ge_u (local.get $i) (local.get $inputs)))
                (local.set $xi (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
                (if (f32.ne (local.get $xi) (f32.const 0))
                  (then
                    ;; out += xi * row i, written out here: a call per row would spill every live value.
                    (local.set $xv (f32x4.splat (local.get $xi)))
                    (local.set $row (i32.add (local.get $w) (i32.mul (local.get $i) (local.get $rowBytes))))
                    (local.set $j (i32.const 0))
                    (block $quadsDone
                      (loop $quads
                        (br_if $quadsDone (i32.ge_u (local.get $j) (local.get $quadBytes)))
                        (v128.store (i32.add (local.get $out) (local.get $j))
                          (f32x4.add (v128.load (i32.add (local.get $out) (local.get $j)))
                            (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $row) (local.get $j))))))
                        (local.set $j (i32.add (local.get $j) (i32.const 16)))
                        (br $quads)))
                    (block $onesDone
                      (loop $ones
                        (br_if $onesDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
                        (f32.store (i32.add (local.get $out) (local.get $j))
                          (f32.add (f32.load (i32.add (local.get $out) (local.get $j)))
                            (f32.mul (local.get $xi) (f32.load (i32.add (local.get $row) (local.get $j))))))
                        (local.set $j (i32.add (local.get $j) (i32.const 4)))
                        (br $ones)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $inputLoop)))))
        (local.set $l (i32.add (local.get $l) (i32.const 1)))
        (br $layerLoop)))
    ;; Softmax in float64, as in JS: max, exp(logit - max), their sum.
    (local.set $max (f64.const -inf))
    (local.set $c (i32.const 0))
    (block $maxDone
      (loop $maxLoop
        (br_if $maxDone (i32.ge_u (local.get $c) (local.get $n)))
        (local.set $v (f64.promote_f32 (f32.load (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))))
        (if (f64.gt (local.get $v) (local.get $max)) (then (local.set $max (local.get $v))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $maxLoop)))
    ;; Two classes at a time; an odd count's last pair reads the zero padding after the
    ;; logits and writes one f64 past the class count, which the $exps area has room for.
    (local.set $c (i32.const 0))
    (block $expDone
      (loop $expLoop
        (br_if $expDone (i32.ge_u (local.get $c) (local.get $n)))
        (v128.store (i32.add (global.get $exps) (i32.shl (local.get $c) (i32.const 3)))
          (call $expF64x2 (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2)))))
            (f64x2.splat (local.get $max)))))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br $expLoop)))
    ;; Summed one by one in class order, as in JS.
    (local.set $sum (f64.const 0))
    (local.set $c (i32.const 0))
    (block $sumDone
      (loop $sumLoop
        (br_if $sumDone (i32.ge_u (local.get $c) (local.get $n)))
        (local.set $sum (f64.add (local.get $sum) (f64.load (i32.add (global.get $exps) (i32.shl (local.get $c) (i32.const 3))))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $sumLoop)))
    (global.set $expSum (local.get $sum))
    (f64.add (local.get $max) (call $log (local.get $sum))))

  ;; The last layer's output (the logits) of a sample's block.
  (func $logits (param $block i32) (result i32)
    (i32.add (local.get $block)
      (i32.load offset=20 (i32.add (global.get $table) (i32.shl (i32.sub (global.get $layers) (i32.const 1)) (i32.const 5))))))

  ;; After $forward: writes the output delta (softmax - onehot(label), rounded to float32 as
  ;; in JS) into the block and returns the sample's cross-entropy, lse - logit[label].
  (func $outputDelta (param $block i32) (param $label i32) (param $lse f64) (result f64)
    (local $t i32) (local $n i32) (local $delta i32) (local $c i32) (local $d f32) (local $p f64)
    (local.set $t (i32.add (global.get $table) (i32.shl (i32.sub (global.get $layers) (i32.const 1)) (i32.const 5))))
    (local.set $n (i32.load offset=4 (local.get $t)))
    (local.set $delta (i32.add (local.get $block) (i32.load offset=28 (local.get $t))))
    (local.set $c (i32.const 0))
    (block $done
      (loop $classes
        (br_if $done (i32.ge_u (local.get $c) (local.get $n)))
        (local.set $p (f64.div
          (f64.load (i32.add (global.get $exps) (i32.shl (local.get $c) (i32.const 3))))
          (global.get $expSum)))
        ;; A probability under 2^-64 counts as 0. Left in, the backward pass would make
        ;; float32 subnormals from it, which x86 computes with ~100-cycle microcode assists
        ;; (wasm cannot set flush-to-zero): a saturated softmax (e.g. --init randn) then ran
        ;; 1.5x slower. What is dropped lies far below the rounding of the largest delta
        ;; (at least ~1/(2 classes), so its float32 ulp is ~2^-28 or more).
        (local.set $d (select (f32.const 0) (f32.demote_f64 (local.get $p)) (f64.lt (local.get $p) (f64.const 0x1p-64))))
        (if (i32.eq (local.get $c) (local.get $label)) (then (local.set $d (f32.sub (local.get $d) (f32.const 1)))))
        (f32.store (i32.add (local.get $delta) (i32.shl (local.get $c) (i32.const 2))) (local.get $d))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $classes)))
    (f64.sub (local.get $lse)
      (f64.promote_f32 (f32.load (i32.add (i32.add (local.get $block) (i32.load offset=20 (local.get $t)))
        (i32.shl (local.get $label) (i32.const 2)))))))

  ;; Backward pass of one sample whose block holds its forward pass and output delta:
  ;; target += coef * gradient. coef = 1 accumulates a gradient (target = grad; the products
  ;; x * delta round as in JS); coef = -lr with target = params is the fused SGD update.
  ;; Each layer's input delta is computed from W (params) before that layer's row changes.
  (func $backward (param $params i32) (param $target i32) (param $coef f32)
    (param $offsets i32) (param $entries i32) (param $sample i32) (param $block i32)
    (local $l i32) (local $t i32) (local $inputs i32) (local $n i32) (local $dOut i32) (local $dIn i32)
    (local $x i32) (local $w i32) (local $tw i32) (local $rowBytes i32) (local $i i32) (local $xi f32)
    (local $coefv v128) (local $e i32) (local $end i32) (local $entry i32) (local $xv v128) (local $row i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $quadBytes i32) (local $trow i32) (local $j i32) (local $acc v128) (local $dot f32) (local $sdp i32)
    (local $pixTable i32)
    (local.set $pixTable (global.get $pix)) ;; a local, as in $forward
    (local.set $sdp (global.get $sd))
    (local.set $coefv (f32x4.splat (local.get $coef)))
    (local.set $l (i32.sub (global.get $layers) (i32.const 1)))
    (loop $layerLoop
      (local.set $t (i32.add (global.get $table) (i32.shl (local.get $l) (i32.const 5))))
      (local.set $inputs (i32.load (local.get $t)))
      (local.set $n (i32.load offset=4 (local.get $t)))
      (local.set $dOut (i32.add (local.get $block) (i32.load offset=28 (local.get $t))))
      (local.set $w (i32.add (local.get $params) (i32.load offset=8 (local.get $t))))
      (local.set $tw (i32.add (local.get $target) (i32.load offset=8 (local.get $t))))
      (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
      ;; sd = coef * delta, by quads over the zero-padded delta.
      (local.set $i (i32.const 0))
      (block $scaleDone
        (loop $scale
          (br_if $scaleDone (i32.ge_u (local.get $i) (local.get $n)))
          (v128.store (i32.add (global.get $sd) (i32.shl (local.get $i) (i32.const 2)))
            (f32x4.mul (local.get $coefv) (v128.load (i32.add (local.get $dOut) (i32.shl (local.get $i) (i32.const 2))))))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $scale)))
      (if (i32.gt_u (local.get $l) (i32.const 0))
        (then
          ;; Hidden input: delta below = (W row . delta) where the ReLU let it through; a row's
          ;; dot product is taken before the same row is updated, which is all that must precede it.
          (local.set $x (i32.add (local.get $block) (i32.load offset=16 (local.get $t))))
          (local.set $dIn (i32.add (local.get $block) (i32.load offset=24 (local.get $t))))
          (local.set $quadBytes (i32.and (local.get $rowBytes) (i32.const -16)))
          (local.set $i (i32.const 0))
          (block $inputsDone
            (loop $inputLoop
              (br_if $inputsDone (i32.ge_u (local.get $i) (local.get $inputs)))
              (local.set $xi (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
              (if (f32.eq (local.get $xi) (f32.const 0))
                (then (f32.store (i32.add (local.get $dIn) (i32.shl (local.get $i) (i32.const 2))) (f32.const 0)))
                (else
                  ;; One pass over row i: the dot product with delta (four lane sums, added in a
                  ;; fixed order, then the tail) reads each weight before target row i += xi * sd.
                  (local.set $xv (f32x4.splat (local.get $xi)))
                  (local.set $row (i32.add (local.get $w) (i32.mul (local.get $i) (local.get $rowBytes))))
                  (local.set $trow (i32.add (local.get $tw) (i32.mul (local.get $i) (local.get $rowBytes))))
                  (local.set $acc (v128.const f32x4 0 0 0 0))
                  (local.set $j (i32.const 0))
                  (block $quadsDone
                    (loop $quads
                      (br_if $quadsDone (i32.ge_u (local.get $j) (local.get $quadBytes)))
                      (local.set $acc (f32x4.add (local.get $acc)
                        (f32x4.mul (v128.load (i32.add (local.get $row) (local.get $j))) (v128.load (i32.add (local.get $dOut) (local.get $j))))))
                      (v128.store (i32.add (local.get $trow) (local.get $j))
                        (f32x4.add (v128.load (i32.add (local.get $trow) (local.get $j)))
                          (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $sdp) (local.get $j))))))
                      (local.set $j (i32.add (local.get $j) (i32.const 16)))
                      (br $quads)))
                  (local.set $dot
                    (f32.add
                      (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                      (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
                  (block $onesDone
                    (loop $ones
                      (br_if $onesDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
                      (local.set $dot (f32.add (local.get $dot)
                        (f32.mul (f32.load (i32.add (local.get $row) (local.get $j))) (f32.load (i32.add (local.get $dOut) (local.get $j))))))
                      (f32.store (i32.add (local.get $trow) (local.get $j))
                        (f32.add (f32.load (i32.add (local.get $trow) (local.get $j)))
                          (f32.mul (local.get $xi) (f32.load (i32.add (local.get $sdp) (local.get $j))))))
                      (local.set $j (i32.add (local.get $j) (i32.const 4)))
                      (br $ones)))
                  (f32.store (i32.add (local.get $dIn) (i32.shl (local.get $i) (i32.const 2))) (local.get $dot))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $inputLoop))))
        (else
          ;; First layer: only the rows of the sample's nonzero pixels.
          (local.set $e (i32.add (local.get $entries)
            (i32.shl (i32.load (i32.add (local.get $offsets) (i32.shl (local.get $sample) (i32.const 2)))) (i32.const 2))))
          (local.set $end (i32.add (local.get $entries)
            (i32.shl (i32.load offset=4 (i32.add (local.get $offsets) (i32.shl (local.get $sample) (i32.const 2)))) (i32.const 2))))
          (if (global.get $fast)
            (then
              (local.set $s0 (v128.load (global.get $sd)))
              (local.set $s1 (v128.load offset=16 (global.get $sd)))
              (local.set $s2 (v128.load offset=32 (global.get $sd)))
              (local.set $s3 (v128.load offset=48 (global.get $sd)))
              (block $rowsDone
                (loop $rows
                  (br_if $rowsDone (i32.ge_u (local.get $e) (local.get $end)))
                  (local.set $entry (i32.load (local.get $e)))
                  (local.set $xv (v128.load32_splat
                    (i32.add (local.get $pixTable) (i32.shl (i32.and (local.get $entry) (i32.const 255)) (i32.const 2)))))
                  (local.set $row (i32.add (local.get $tw) (i32.shl (i32.shr_u (local.get $entry) (i32.const 8)) (i32.const 6))))
                  (v128.store (local.get $row) (f32x4.add (v128.load (local.get $row)) (f32x4.mul (local.get $xv) (local.get $s0))))
                  (v128.store offset=16 (local.get $row) (f32x4.add (v128.load offset=16 (local.get $row)) (f32x4.mul (local.get $xv) (local.get $s1))))
                  (v128.store offset=32 (local.get $row) (f32x4.add (v128.load offset=32 (local.get $row)) (f32x4.mul (local.get $xv) (local.get $s2))))
                  (v128.store offset=48 (local.get $row) (f32x4.add (v128.load offset=48 (local.get $row)) (f32x4.mul (local.get $xv) (local.get $s3))))
                  (local.set $e (i32.add (local.get $e) (i32.const 4)))
                  (br $rows))))
            (else
              ;; Any width: target row += x * sd by quads, then the tail one by one.
              (local.set $quadBytes (i32.and (local.get $rowBytes) (i32.const -16)))
              (block $rowsDone
                (loop $rows
                  (br_if $rowsDone (i32.ge_u (local.get $e) (local.get $end)))
                  (local.set $entry (i32.load (local.get $e)))
                  (local.set $xi (f32.load (i32.add (local.get $pixTable) (i32.shl (i32.and (local.get $entry) (i32.const 255)) (i32.const 2)))))
                  (local.set $xv (f32x4.splat (local.get $xi)))
                  (local.set $trow (i32.add (local.get $tw) (i32.mul (i32.shr_u (local.get $entry) (i32.const 8)) (local.get $rowBytes))))
                  (local.set $j (i32.const 0))
                  (block $quadsDone
                    (loop $quads
                      (br_if $quadsDone (i32.ge_u (local.get $j) (local.get $quadBytes)))
                      (v128.store (i32.add (local.get $trow) (local.get $j))
                        (f32x4.add (v128.load (i32.add (local.get $trow) (local.get $j)))
                          (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $sdp) (local.get $j))))))
                      (local.set $j (i32.add (local.get $j) (i32.const 16)))
                      (br $quads)))
                  (block $onesDone
                    (loop $ones
                      (br_if $onesDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
                      (f32.store (i32.add (local.get $trow) (local.get $j))
                        (f32.add (f32.load (i32.add (local.get $trow) (local.get $j)))
                          (f32.mul (local.get $xi) (f32.load (i32.add (local.get $sdp) (local.get $j))))))
                      (local.set $j (i32.add (local.get $j) (i32.const 4)))
                      (br $ones)))
                  (local.set $e (i32.add (local.get $e) (i32.const 4)))
                  (br $rows)))))))
      ;; Bias: target += sd (x = 1 makes the product exact).
      (call $axpy (i32.add (local.get $target) (i32.load offset=12 (local.get $t))) (global.get $sd) (local.get $n) (f32.const 1))
      (local.set $l (i32.sub (local.get $l) (i32.const 1)))
      (br_if $layerLoop (i32.ge_s (local.get $l) (i32.const 0)))))

  ;; Reads one word of every cache line of a sample's pixel entries (and its label) without
  ;; using them. gradient() does this for a whole chunk before its forward passes, and
  ;; per-sample SGD's caller every 16 samples (prefetch). Samples come in random order, so
  ;; each one's ~12 lines come from DRAM; this way a chunk's misses are all in flight
  ;; together instead of one or two at a time as the forward loop reaches them (gradient:
  ;; 0.64 -> 0.90 M samples/s; SGD: 0.068 -> 0.053 s an epoch). wasm has no prefetch
  ;; instruction, and touching a few samples ahead inside the loop gained less: pending
  ;; loads stall retirement just the same, only in smaller batches.
  (func $touch (param $offsets i32) (param $entries i32) (param $labels i32) (param $sample i32)
    (local $e i32) (local $end i32) (local $sink i32)
    (local.set $e (i32.add (local.get $entries)
      (i32.shl (i32.load (i32.add (local.get $offsets) (i32.shl (local.get $sample) (i32.const 2)))) (i32.const 2))))
    (local.set $end (i32.add (local.get $entries)
      (i32.shl (i32.load offset=4 (i32.add (local.get $offsets) (i32.shl (local.get $sample) (i32.const 2)))) (i32.const 2))))
    (local.set $sink (i32.load8_u (i32.add (local.get $labels) (local.get $sample))))
    (block $done
      (loop $lines
        (br_if $done (i32.ge_u (local.get $e) (local.get $end)))
        (local.set $sink (i32.or (local.get $sink) (i32.load (local.get $e))))
        (local.set $e (i32.add (local.get $e) (i32.const 64)))
        (br $lines)))
    ;; A store keeps the loads from being optimised away.
    (global.set $sink (local.get $sink)))

  ;; Touches the data of samples order[from..to), all in one go (see $touch). Exported for
  ;; per-sample SGD, whose caller knows which samples come next and the kernel does not.
  (func $prefetch (export "prefetch") (param $offsets i32) (param $entries i32) (param $labels i32) (param $order i32)
    (param $from i32) (param $to i32)
    (block $done
      (loop $samples
        (br_if $done (i32.ge_s (local.get $from) (local.get $to)))
        (call $touch (local.get $offsets) (local.get $entries) (local.get $labels)
          (i32.load (i32.add (local.get $order) (i32.shl (local.get $from) (i32.const 2)))))
        (local.set $from (i32.add (local.get $from) (i32.const 1)))
        (br $samples))))

  ;; grad = summed gradient over samples order[from..to); returns their summed loss.
  ;; Works in chunks of $chunk samples: touch their data, all forward passes, then all
  ;; backward passes.
  (func (export "gradient") (param $params i32) (param $grad i32) (param $offsets i32) (param $entries i32)
    (param $labels i32) (param $order i32) (param $from i32) (param $to i32) (result f64)
    (local $loss f64) (local $k i32) (local $chunkEnd i32) (local $sample i32) (local $block i32)
    (memory.fill (local.get $grad) (i32.const 0) (global.get $paramBytes))
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_s (local.get $from) (local.get $to)))
        (local.set $chunkEnd (i32.add (local.get $from) (global.get $chunk)))
        (if (i32.gt_s (local.get $chunkEnd) (local.get $to)) (then (local.set $chunkEnd (local.get $to))))
        (call $prefetch (local.get $offsets) (local.get $entries) (local.get $labels) (local.get $order) (local.get $from) (local.get $chunkEnd))
        (local.set $k (local.get $from))
        (local.set $block (global.get $blocks))
        (block $forwardDone
          (loop $forwardLoop
            (br_if $forwardDone (i32.ge_s (local.get $k) (local.get $chunkEnd)))
            (local.set $sample (i32.load (i32.add (local.get $order) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $loss (f64.add (local.get $loss)
              (call $outputDelta (local.get $block)
                (i32.load8_u (i32.add (local.get $labels) (local.get $sample)))
                (call $forward (local.get $params) (local.get $offsets) (local.get $entries) (local.get $sample) (local.get $block)))))
            (local.set $block (i32.add (local.get $block) (global.get $stride)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $forwardLoop)))
        (local.set $k (local.get $from))
        (local.set $block (global.get $blocks))
        (block $backwardDone
          (loop $backwardLoop
            (br_if $backwardDone (i32.ge_s (local.get $k) (local.get $chunkEnd)))
            (call $backward (local.get $params) (local.get $grad) (f32.const 1) (local.get $offsets) (local.get $entries)
              (i32.load (i32.add (local.get $order) (i32.shl (local.get $k) (i32.const 2)))) (local.get $block))
            (local.set $block (i32.add (local.get $block) (global.get $stride)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $backwardLoop)))
        (local.set $from (local.get $chunkEnd))
        (br $chunks)))
    (local.get $loss))

  ;; One sample of plain SGD with the update fused into the backward pass; returns its
  ;; loss (before the update).
  (func (export "sgdSample") (param $params i32) (param $offsets i32) (param $entries i32) (param $labels i32)
    (param $sample i32) (param $lr f64) (result f64)
    (local $loss f64)
    (local.set $loss (call $outputDelta (global.get $blocks)
      (i32.load8_u (i32.add (local.get $labels) (local.get $sample)))
      (call $forward (local.get $params) (local.get $offsets) (local.get $entries) (local.get $sample) (global.get $blocks))))
    (call $backward (local.get $params) (local.get $params) (f32.demote_f64 (f64.neg (local.get $lr)))
      (local.get $offsets) (local.get $entries) (local.get $sample) (global.get $blocks))
    (local.get $loss))

  ;; Adds the summed loss and the correct predictions over samples [from, to) to the two
  ;; f64 at $totals (the first prediction wins a tie, as in JS).
  (func (export "evaluate") (param $params i32) (param $offsets i32) (param $entries i32) (param $labels i32)
    (param $from i32) (param $to i32)
    (local $loss f64) (local $correct f64) (local $label i32) (local $lse f64) (local $logits i32)
    (local $n i32) (local $c i32) (local $best i32)
    (local.set $loss (f64.load (global.get $totals)))
    (local.set $correct (f64.load offset=8 (global.get $totals)))
    (local.set $logits (call $logits (global.get $blocks)))
    (local.set $n (i32.load offset=4 (i32.add (global.get $table)
      (i32.shl (i32.sub (global.get $layers) (i32.const 1)) (i32.const 5)))))
    (block $done
      (loop $samples
        (br_if $done (i32.ge_s (local.get $from) (local.get $to)))
        (local.set $lse (call $forward (local.get $params) (local.get $offsets) (local.get $entries) (local.get $from) (global.get $blocks)))
        (local.set $label (i32.load8_u (i32.add (local.get $labels) (local.get $from))))
        (local.set $loss (f64.add (local.get $loss) (f64.sub (local.get $lse)
          (f64.promote_f32 (f32.load (i32.add (local.get $logits) (i32.shl (local.get $label) (i32.const 2))))))))
        (local.set $best (i32.const 0))
        (local.set $c (i32.const 1))
        (block $argmaxDone
          (loop $argmax
            (br_if $argmaxDone (i32.ge_u (local.get $c) (local.get $n)))
            (if (f32.gt (f32.load (i32.add (local.get $logits) (i32.shl (local.get $c) (i32.const 2))))
                        (f32.load (i32.add (local.get $logits) (i32.shl (local.get $best) (i32.const 2)))))
              (then (local.set $best (local.get $c))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $argmax)))
        (if (i32.eq (local.get $best) (local.get $label))
          (then (local.set $correct (f64.add (local.get $correct) (f64.const 1)))))
        (local.set $from (i32.add (local.get $from) (i32.const 1)))
        (br $samples)))
    (f64.store (global.get $totals) (local.get $loss))
    (f64.store offset=8 (global.get $totals) (local.get $correct)))
)
