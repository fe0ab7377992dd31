;; Recurses R levels deep (R from its input), then, at the bottom of its own stack, calls the
;; next contract in its input with the rest: each nested contract runs while every caller above
;; it holds a deep stack. Input at 1024: [R: u32 LE][count: u8][count addresses of 32 bytes].
;; Returns 4 bytes: 0 when the whole chain succeeded, else the first failing call's code.
(module
  (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
  (import "watt_v1" "call" (func $call (param i32 i32 i32 i32 i64 i32 i32) (result i32)))
  (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
  (memory (export "memory") 1 1)
  (func $next (result i32) (local $count i32) (local $code i32)
    (local.set $count (i32.load8_u (i32.const 1028)))
    (if (i32.eqz (local.get $count)) (then (return (i32.const 0))))
    ;; the callee's input at 2048: R, count - 1, the addresses after the first
    (i32.store (i32.const 2048) (i32.load (i32.const 1024)))
    (i32.store8 (i32.const 2052) (i32.sub (local.get $count) (i32.const 1)))
    (memory.copy (i32.const 2053) (i32.const 1061) (i32.mul (i32.sub (local.get $count) (i32.const 1)) (i32.const 32)))
    (i32.store (i32.const 4092) (i32.const 64))
    (local.set $code (call $call (i32.const 1029) (i32.const 512) (i32.const 2048)
      (i32.add (i32.const 5) (i32.mul (i32.sub (local.get $count) (i32.const 1)) (i32.const 32)))
      (i64.const 0) (i32.const 4096) (i32.const 4092)))
    (if (result i32) (local.get $code) (then (local.get $code)) (else (i32.load (i32.const 4096)))))
  (func $r (param $n i32) (result i32) (local i64 i64 i64 i64 i64 i64 i64 i64)
    (if (result i32) (i32.eqz (local.get $n))
      (then (call $next))
      (else (i32.add (call $r (i32.sub (local.get $n) (i32.const 1))) (i32.const 0)))))
  (func (export "deploy"))
  (func (export "call")
    (i32.store (i32.const 1020) (i32.const 1024))
    (drop (call $input (i32.const 1024) (i32.const 1020)))
    (i32.store (i32.const 0) (call $r (i32.load (i32.const 1024))))
    (call $ret (i32.const 0) (i32.const 0) (i32.const 4))))
