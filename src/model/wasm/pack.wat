;; Packs images into lists of their nonzero pixels (see Dataset.sparse in src/data/dataset.ts):
;; entry = (pixel index << 8) | value. Sixteen pixels at a time: one SIMD compare and a
;; bitmask find the nonzero ones, so the four in five MNIST pixels that are zero cost
;; almost nothing. Pointers are byte offsets into the imported shared memory.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; How many of `count` bytes from `ptr` are nonzero.
  (func (export "countNonzero") (param $ptr i32) (param $count i32) (result i32)
    (local $end i32) (local $n i32)
    (local.set $end (i32.add (local.get $ptr) (i32.and (local.get $count) (i32.const -16))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $n (i32.add (local.get $n)
          (i32.popcnt (i8x16.bitmask (i8x16.ne (v128.load (local.get $ptr)) (v128.const i64x2 0 0))))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 16)))
        (br $blocks)))
    (local.set $end (i32.add (local.get $end) (i32.and (local.get $count) (i32.const 15))))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $ptr) (local.get $end)))
        (if (i32.load8_u (local.get $ptr)) (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $tail)))
    (local.get $n))

  ;; Writes offsets[0..count] (i32) and the entries (u32) of `count` images of `size` pixels,
  ;; numbering entries from `at` (so a data set can be packed a slice at a time); returns
  ;; the number after the last one written.
  (func (export "pack") (param $pixels i32) (param $count i32) (param $size i32)
                        (param $offsets i32) (param $entries i32) (param $at i32) (result i32)
    (local $image i32) (local $base i32) (local $p i32) (local $blocksEnd i32)
    (local $mask i32) (local $bit i32) (local $value i32)
    (block $imagesDone
      (loop $images
        (br_if $imagesDone (i32.ge_u (local.get $image) (local.get $count)))
        (i32.store (i32.add (local.get $offsets) (i32.shl (local.get $image) (i32.const 2))) (local.get $at))
        (local.set $base (i32.add (local.get $pixels) (i32.mul (local.get $image) (local.get $size))))
        (local.set $p (i32.const 0))
        (local.set $blocksEnd (i32.and (local.get $size) (i32.const -16)))
        ;; whole blocks of 16 pixels
        (block $blocksDone
          (loop $blocks
            (br_if $blocksDone (i32.ge_u (local.get $p) (local.get $blocksEnd)))
            (local.set $mask (i8x16.bitmask (i8x16.ne
              (v128.load (i32.add (local.get $base) (local.get $p))) (v128.const i64x2 0 0))))
            (block $bitsDone
              (loop $bits
                (br_if $bitsDone (i32.eqz (local.get $mask)))
                (local.set $bit (i32.add (local.get $p) (i32.ctz (local.get $mask))))
                (i32.store (i32.add (local.get $entries) (i32.shl (local.get $at) (i32.const 2)))
                  (i32.or (i32.shl (local.get $bit) (i32.const 8))
                          (i32.load8_u (i32.add (local.get $base) (local.get $bit)))))
                (local.set $at (i32.add (local.get $at) (i32.const 1)))
                (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
                (br $bits)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $blocks)))
        ;; the last size % 16 pixels one by one
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $p) (local.get $size)))
            (local.set $value (i32.load8_u (i32.add (local.get $base) (local.get $p))))
            (if (local.get $value) (then
              (i32.store (i32.add (local.get $entries) (i32.shl (local.get $at) (i32.const 2)))
                (i32.or (i32.shl (local.get $p) (i32.const 8)) (local.get $value)))
              (local.set $at (i32.add (local.get $at) (i32.const 1)))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $tail)))
        (local.set $image (i32.add (local.get $image) (i32.const 1)))
        (br $images)))
    (i32.store (i32.add (local.get $offsets) (i32.shl (local.get $count) (i32.const 2))) (local.get $at))
    (local.get $at))
)
