;; A storage test contract driven by its input's first byte (op). Input at 1024 (length word at
;; 1020), output buffer at 40000 (length word at 39996).
;;   0 fill [start: u32][count: u32]  stores key i -> value i (both 4 bytes, little-endian)
;;                                    for i in start..start+count
;;   1 set [key_len: u8][key][value]
;;   2 clear [key]
;;   3 terminate [beneficiary: 32 bytes]
;;   4 get [key]                      returns the value (empty when there is none)
;;   5 contains [key]
(module
  (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
  (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
  (import "watt_v1" "set_storage" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "get_storage" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "clear_storage" (func $clear (param i32 i32) (result i32)))
  (import "watt_v1" "contains_storage" (func $contains (param i32 i32) (result i32)))
  (import "watt_v1" "terminate" (func $terminate (param i32)))
  (memory (export "memory") 1 1)
  (func $read_input (result i32)
    (i32.store (i32.const 1020) (i32.const 32768))
    (drop (call $input (i32.const 1024) (i32.const 1020)))
    (i32.load (i32.const 1020)))
  (func (export "deploy"))
  (func (export "call") (local $len i32) (local $op i32) (local $i i32) (local $end i32) (local $kl i32)
    (local.set $len (call $read_input))
    (local.set $op (i32.load8_u (i32.const 1024)))
    (if (i32.eq (local.get $op) (i32.const 0)) (then
      (local.set $i (i32.load (i32.const 1025)))
      (local.set $end (i32.add (local.get $i) (i32.load (i32.const 1029))))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (i32.store (i32.const 0) (local.get $i))
        (drop (call $set (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))))
    (if (i32.eq (local.get $op) (i32.const 1)) (then
      (local.set $kl (i32.load8_u (i32.const 1025)))
      (drop (call $set (i32.const 1026) (local.get $kl)
        (i32.add (i32.const 1026) (local.get $kl))
        (i32.sub (local.get $len) (i32.add (i32.const 2) (local.get $kl)))))))
    (if (i32.eq (local.get $op) (i32.const 2)) (then
      (drop (call $clear (i32.const 1025) (i32.sub (local.get $len) (i32.const 1))))))
    (if (i32.eq (local.get $op) (i32.const 3)) (then (call $terminate (i32.const 1025))))
    (if (i32.eq (local.get $op) (i32.const 4)) (then
      (i32.store (i32.const 39996) (i32.const 16384))
      (if (call $get (i32.const 1025) (i32.sub (local.get $len) (i32.const 1)) (i32.const 40000) (i32.const 39996))
        (then (i32.store (i32.const 39996) (i32.const 0))))
      (call $ret (i32.const 0) (i32.const 40000) (i32.load (i32.const 39996)))))
    (if (i32.eq (local.get $op) (i32.const 5)) (then
      (drop (call $contains (i32.const 1025) (i32.sub (local.get $len) (i32.const 1)))))))
)
