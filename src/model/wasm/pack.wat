;; Packs images into lists of their nonzero pixels (see Dataset.sparse in src/data/dataset.ts):
;; entry = (pixel index << 8) | value. Sixteen pixels at a time: one SIMD compare and a
;; bitmask find the nonzero ones, so the four in five MNIST pixels that are zero cost
;; almost nothing. Pointers are byte offsets into the imported shared memory.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Sixteen-byte lane shuffles: entry m moves the 32-bit lanes whose bit is set in the 4-bit
  ;; mask m to the front, in order (bytes 0x80 read as zero).
  (data $shuffleTable "\80\80\80\80\80\80\80\80\80\80\80\80\80\80\80\80\00\01\02\03\80\80\80\80\80\80\80\80\80\80\80\80\04\05\06\07\80\80\80\80\80\80\80\80\80\80\80\80\00\01\02\03\04\05\06\07\80\80\80\80\80\80\80\80\08\09\0a\0b\80\80\80\80\80\80\80\80\80\80\80\80\00\01\02\03\08\09\0a\0b\80\80\80\80\80\80\80\80\04\05\06\07\08\09\0a\0b\80\80\80\80\80\80\80\80\00\01\02\03\04\05\06\07\08\09\0a\0b\80\80\80\80\0c\0d\0e\0f\80\80\80\80\80\80\80\80\80\80\80\80\00\01\02\03\0c\0d\0e\0f\80\80\80\80\80\80\80\80\04\05\06\07\0c\0d\0e\0f\80\80\80\80\80\80\80\80\00\01\02\03\04\05\06\07\0c\0d\0e\0f\80\80\80\80\08\09\0a\0b\0c\0d\0e\0f\80\80\80\80\80\80\80\80\00\01\02\03\08\09\0a\0b\0c\0d\0e\0f\80\80\80\80\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\80\80\80\80\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f")
  (global $shuffles (mut i32) (i32.const 0))

  ;; Copies the shuffle table to $table (256 bytes of the shared memory); once per instance.
  (func (export "init") (param $table i32)
    (memory.init $shuffleTable (local.get $table) (i32.const 0) (i32.const 256))
    (global.set $shuffles (local.get $table)))

  ;; Writes offsets[0..count] (i32) and the entries (u32) of `count` images of `size` pixels,
  ;; numbering entries from `at` (so a data set can be packed a slice at a time); returns
  ;; the number after the last one written. Whole blocks of sixteen pixels go without a
  ;; branch per pixel: four at a time, their entries are built in one vector, the nonzero
  ;; ones shuffled to the front (the table above) and all four stored; `at` moves on by how
  ;; many were nonzero. So up to three entries' worth of bytes past the last one get
  ;; written: the entries array needs 16 bytes of room after its end.
  (func (export "pack") (param $pixels i32) (param $count i32) (param $size i32)
                        (param $offsets i32) (param $entries i32) (param $at i32) (result i32)
    (local $image i32) (local $base i32) (local $p i32) (local $blocksEnd i32)
    (local $mask i32) (local $nib i32) (local $value i32) (local $v v128) (local $idx v128)
    (local.set $blocksEnd (i32.and (local.get $size) (i32.const -16)))
    (block $imagesDone
      (loop $images
        (br_if $imagesDone (i32.ge_u (local.get $image) (local.get $count)))
        (i32.store (i32.add (local.get $offsets) (i32.shl (local.get $image) (i32.const 2))) (local.get $at))
        (local.set $base (i32.add (local.get $pixels) (i32.mul (local.get $image) (local.get $size))))
        (local.set $p (i32.const 0))
        (block $blocksDone
          (loop $blocks
            (br_if $blocksDone (i32.ge_u (local.get $p) (local.get $blocksEnd)))
            (local.set $v (v128.load (i32.add (local.get $base) (local.get $p))))
            (local.set $mask (i8x16.bitmask (i8x16.ne (local.get $v) (v128.const i64x2 0 0))))
            (if (local.get $mask) (then
              ;; entry = (pixel index << 8) | value, for the four pixels of each group
              (local.set $idx (i32x4.splat (i32.shl (local.get $p) (i32.const 8))))
            (local.set $nib (i32.and (local.get $mask) (i32.const 15)))
            (v128.store (i32.add (local.get $entries) (i32.shl (local.get $at) (i32.const 2)))
              (i8x16.swizzle
                (v128.or
                  (i8x16.swizzle (local.get $v) (v128.const i8x16 0 128 128 128 1 128 128 128 2 128 128 128 3 128 128 128))
                  (i32x4.add (local.get $idx) (v128.const i32x4 0 256 512 768)))
                (v128.load (i32.add (global.get $shuffles) (i32.shl (local.get $nib) (i32.const 4))))))
            (local.set $at (i32.add (local.get $at) (i32.popcnt (local.get $nib))))
            (local.set $nib (i32.and (i32.shr_u (local.get $mask) (i32.const 4)) (i32.const 15)))
            (v128.store (i32.add (local.get $entries) (i32.shl (local.get $at) (i32.const 2)))
              (i8x16.swizzle
                (v128.or
                  (i8x16.swizzle (local.get $v) (v128.const i8x16 4 128 128 128 5 128 128 128 6 128 128 128 7 128 128 128))
                  (i32x4.add (local.get $idx) (v128.const i32x4 1024 1280 1536 1792)))
                (v128.load (i32.add (global.get $shuffles) (i32.shl (local.get $nib) (i32.const 4))))))
            (local.set $at (i32.add (local.get $at) (i32.popcnt (local.get $nib))))
            (local.set $nib (i32.and (i32.shr_u (local.get $mask) (i32.const 8)) (i32.const 15)))
            (v128.store (i32.add (local.get $entries) (i32.shl (local.get $at) (i32.const 2)))
              (i8x16.swizzle
                (v128.or
                  (i8x16.swizzle (local.get $v) (v128.const i8x16 8 128 128 128 9 128 128 128 10 128 128 128 11 128 128 128))
                  (i32x4.add (local.get $idx) (v128.const i32x4 2048 2304 2560 2816)))
                (v128.load (i32.add (global.get $shuffles) (i32.shl (local.get $nib) (i32.const 4))))))
            (local.set $at (i32.add (local.get $at) (i32.popcnt (local.get $nib))))
            (local.set $nib (i32.and (i32.shr_u (local.get $mask) (i32.const 12)) (i32.const 15)))
            (v128.store (i32.add (local.get $entries) (i32.shl (local.get $at) (i32.const 2)))
              (i8x16.swizzle
                (v128.or
                  (i8x16.swizzle (local.get $v) (v128.const i8x16 12 128 128 128 13 128 128 128 14 128 128 128 15 128 128 128))
                  (i32x4.add (local.get $idx) (v128.const i32x4 3072 3328 3584 3840)))
                (v128.load (i32.add (global.get $shuffles) (i32.shl (local.get $nib) (i32.const 4))))))
            (local.set $at (i32.add (local.get $at) (i32.popcnt (local.get $nib))))
            ))
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
