;; A test contract driven by its input's first byte (op). Layout: input at 1024 (length word at
;; 1020), output buffer at 8192 (length word at 8180), a call's code at 8188 (so code ++ output
;; is contiguous), key "k" at 600, 16 zero bytes (value 0) at 512.
(module
  (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
  (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
  (import "watt_v1" "set_storage" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "get_storage" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "deposit_event" (func $event (param i32 i32 i32 i32)))
  (import "watt_v1" "call" (func $call (param i32 i32 i32 i32 i64 i32 i32) (result i32)))
  (import "watt_v1" "terminate" (func $terminate (param i32)))
  (import "watt_v1" "transfer" (func $transfer (param i32 i32) (result i32)))
  (import "watt_v1" "debug_message" (func $debug (param i32 i32) (result i32)))
  (memory (export "memory") 1 2)
  (data (i32.const 600) "k")
  (data (i32.const 700) "probe says hello")
  (func $read_input (result i32)
    (i32.store (i32.const 1020) (i32.const 4096))
    (drop (call $input (i32.const 1024) (i32.const 1020)))
    (i32.load (i32.const 1020)))
  (func $recurse (param i32) (result i32)
    (call $recurse (i32.add (local.get 0) (i32.const 1))))
  (func (export "deploy"))
  (func (export "call") (local $len i32) (local $op i32) (local $code i32)
    (local.set $len (call $read_input))
    (local.set $op (i32.load8_u (i32.const 1024)))
    (if (i32.eq (local.get $op) (i32.const 0)) (then (loop $l (br $l))))
    (if (i32.eq (local.get $op) (i32.const 1)) (then (drop (call $recurse (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 2)) (then
      (i32.store (i32.const 0) (memory.grow (i32.load8_u (i32.const 1025))))
      (call $ret (i32.const 0) (i32.const 0) (i32.const 4))))
    (if (i32.eq (local.get $op) (i32.const 3)) (then
      (call $event (i32.const 1025) (i32.const 2) (i32.const 1089) (i32.sub (local.get $len) (i32.const 65)))))
    (if (i32.eq (local.get $op) (i32.const 4)) (then
      (i32.store (i32.const 8180) (i32.const 4096))
      (local.set $code (call $call (i32.const 1025) (i32.const 512) (i32.const 1057)
        (i32.sub (local.get $len) (i32.const 33)) (i64.const 0) (i32.const 8192) (i32.const 8180)))
      (i32.store (i32.const 8188) (local.get $code))
      (if (i32.and (i32.ne (local.get $code) (i32.const 0)) (i32.ne (local.get $code) (i32.const 2)))
        (then (i32.store (i32.const 8180) (i32.const 0))))
      (call $ret (i32.const 0) (i32.const 8188) (i32.add (i32.const 4) (i32.load (i32.const 8180))))))
    (if (i32.eq (local.get $op) (i32.const 5)) (then
      (call $ret (i32.const 1) (i32.const 1025) (i32.sub (local.get $len) (i32.const 1)))))
    (if (i32.eq (local.get $op) (i32.const 6)) (then
      (drop (call $debug (i32.const 700) (i32.const 16)))
      unreachable))
    (if (i32.eq (local.get $op) (i32.const 7)) (then
      (drop (call $set (i32.const 600) (i32.const 1) (i32.const 1025) (i32.sub (local.get $len) (i32.const 1))))))
    (if (i32.eq (local.get $op) (i32.const 8)) (then
      (drop (call $set (i32.const 600) (i32.const 1) (i32.const 1025) (i32.sub (local.get $len) (i32.const 1))))
      unreachable))
    (if (i32.eq (local.get $op) (i32.const 9)) (then
      (i32.store (i32.const 8180) (i32.const 4096))
      (if (call $get (i32.const 600) (i32.const 1) (i32.const 8192) (i32.const 8180))
        (then (i32.store (i32.const 8180) (i32.const 0))))
      (call $ret (i32.const 0) (i32.const 8192) (i32.load (i32.const 8180)))))
    (if (i32.eq (local.get $op) (i32.const 10)) (then (call $terminate (i32.const 1025))))
    (if (i32.eq (local.get $op) (i32.const 11)) (then
      (i32.store (i32.const 0) (call $transfer (i32.const 1025) (i32.const 1057)))
      (call $ret (i32.const 0) (i32.const 0) (i32.const 4)))))
)
