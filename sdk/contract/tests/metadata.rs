//! The metadata `#[contract]` emits carries, besides the ABI.md fields, the definitions of the
//! custom types the contract's interface uses (`types`) and its storage layout (`storage`).
//! Expected values are written out here or computed independently (blake2b-256 from the
//! `blake2` crate; SCALE encodings from `parity-scale-codec`'s derive, which the metadata's
//! variant indices must agree with).

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use parity_scale_codec::Encode;
use serde_json::{json, Value};
use watt_contract::test;

fn blake2_256(data: &[u8]) -> [u8; 32] {
    Blake2b::<U32>::digest(data).into()
}

#[watt_contract::contract]
#[allow(dead_code)]
mod shapes {
    use parity_scale_codec::{Decode, Encode};
    use watt_contract::alloc::vec::Vec;
    use watt_contract::{AccountId, Mapping};

    #[storage]
    pub struct Canvas {
        pub owner: AccountId,
        pub level: Level,
        pub shapes: Mapping<u32, Shape>,
        pub tags: Mapping<(AccountId, u8), Wrapper<Pair>>,
        pub count: u32,
    }

    #[event]
    pub struct Drawn {
        #[topic]
        pub id: u32,
        pub at: Point,
    }

    /// A named struct with a compact and a skipped field.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
    pub struct Point {
        pub x: i32,
        #[codec(compact)]
        pub y: u64,
        #[codec(skip)]
        pub cache: u8,
    }

    /// A tuple struct.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
    pub struct Pair(pub u8, pub Point);

    /// Variants with an explicit codec index, a skipped one, tuple and struct fields.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
    pub enum Shape {
        Dot,
        #[codec(index = 7)]
        Line {
            from: Point,
            to: Point,
        },
        #[codec(skip)]
        Hidden,
        Poly(Vec<Point>),
    }

    /// Explicit discriminants are the indices.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
    pub enum Level {
        Low = 1,
        High = 5,
    }

    /// A generic type.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
    pub struct Wrapper<T> {
        pub inner: T,
    }

    /// Reached only through the alias a message returns.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
    pub enum DrawError {
        Full,
    }

    pub type DrawResult<T> = Result<T, DrawError>;

    /// Derives the codec but nothing in the interface uses it: not listed.
    #[derive(Encode, Decode)]
    pub struct Internal {
        pub secret: u8,
    }

    impl Canvas {
        #[constructor]
        pub fn new(level: Level) -> Self {
            Self {
                owner: watt_contract::env::caller(),
                level,
                shapes: Mapping::new(),
                tags: Mapping::new(),
                count: 0,
            }
        }

        #[message]
        pub fn draw(&mut self, id: u32, shape: Shape) -> DrawResult<u32> {
            if self.count >= 2 {
                return Err(DrawError::Full);
            }
            self.shapes.insert(&id, &shape);
            self.count += 1;
            Ok(self.count)
        }

        #[message]
        pub fn shape(&self, id: u32) -> Option<Shape> {
            self.shapes.get(&id)
        }

        #[message]
        pub fn internal_size(&self) -> u32 {
            Internal { secret: 1 }.encode().len() as u32
        }
    }
}

use shapes::{Canvas, Level, Point, Shape};

fn meta() -> Value {
    serde_json::from_str(shapes::__watt_metadata()).expect("the metadata is JSON")
}

fn type_def<'a>(meta: &'a Value, name: &str) -> &'a Value {
    meta["types"]
        .as_array()
        .expect("types is an array")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("type {name} missing from {}", meta["types"]))
}

#[test]
fn the_existing_fields_are_kept() {
    let m = meta();
    assert_eq!(m["abi"], "watt_v1");
    assert_eq!(m["name"], "shapes");
    assert_eq!(m["constructors"][0]["name"], "new");
    assert_eq!(m["constructors"][0]["args"][0]["type"], "Level");
    let names: Vec<&str> = m["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["draw", "shape", "internal_size"]);
    assert_eq!(m["messages"][0]["returns"], "DrawResult<u32>");
    assert_eq!(m["events"][0]["name"], "Drawn");
    assert_eq!(m["events"][0]["fields"][1]["type"], "Point");
}

#[test]
fn types_lists_exactly_the_custom_types_the_interface_uses_in_declaration_order() {
    let m = meta();
    let names: Vec<&str> = m["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // Internal is unused; the storage and event structs are described elsewhere.
    assert_eq!(
        names,
        ["Point", "Pair", "Shape", "Level", "Wrapper", "DrawError", "DrawResult"]
    );
}

#[test]
fn struct_definitions_give_fields_in_encoding_order() {
    let m = meta();
    assert_eq!(
        type_def(&m, "Point"),
        &json!({"name": "Point", "kind": "struct", "params": [], "fields": [
            {"name": "x", "type": "i32"},
            {"name": "y", "type": "u64", "compact": true}
        ]})
    );
    assert_eq!(
        type_def(&m, "Pair"),
        &json!({"name": "Pair", "kind": "struct", "params": [], "fields": [
            {"type": "u8"}, {"type": "Point"}
        ]})
    );
    assert_eq!(
        type_def(&m, "Wrapper"),
        &json!({"name": "Wrapper", "kind": "struct", "params": ["T"], "fields": [
            {"name": "inner", "type": "T"}
        ]})
    );
    // The skipped field is not encoded, the compact one is: 4 bytes of x, 1 of compact(3).
    let p = Point { x: -1, y: 3, cache: 9 };
    assert_eq!(p.encode(), vec![0xff, 0xff, 0xff, 0xff, 3 << 2]);
}

#[test]
fn enum_definitions_give_the_variant_indices_the_codec_uses() {
    let m = meta();
    assert_eq!(
        type_def(&m, "Shape"),
        &json!({"name": "Shape", "kind": "enum", "params": [], "variants": [
            {"name": "Dot", "index": 0, "fields": []},
            {"name": "Line", "index": 7, "fields": [
                {"name": "from", "type": "Point"}, {"name": "to", "type": "Point"}
            ]},
            {"name": "Poly", "index": 2, "fields": [{"type": "Vec<Point>"}]}
        ]})
    );
    assert_eq!(
        type_def(&m, "Level"),
        &json!({"name": "Level", "kind": "enum", "params": [], "variants": [
            {"name": "Low", "index": 1, "fields": []},
            {"name": "High", "index": 5, "fields": []}
        ]})
    );
    // Each listed index is the first byte of that variant's actual encoding.
    let pt = Point { x: 0, y: 0, cache: 0 };
    let cases: [(&str, &str, Vec<u8>); 5] = [
        ("Shape", "Dot", Shape::Dot.encode()),
        (
            "Shape",
            "Line",
            Shape::Line {
                from: pt.clone(),
                to: pt.clone(),
            }
            .encode(),
        ),
        ("Shape", "Poly", Shape::Poly(vec![]).encode()),
        ("Level", "Low", Level::Low.encode()),
        ("Level", "High", Level::High.encode()),
    ];
    for (ty, variant, bytes) in cases {
        let v = type_def(&m, ty)["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == variant)
            .unwrap();
        assert_eq!(v["index"], json!(bytes[0]), "{ty}::{variant}");
    }
}

#[test]
fn an_alias_is_defined_and_what_it_names_is_listed() {
    let m = meta();
    assert_eq!(
        type_def(&m, "DrawResult"),
        &json!({"name": "DrawResult", "kind": "alias", "params": ["T"], "type": "Result<T, DrawError>"})
    );
    assert_eq!(
        type_def(&m, "DrawError"),
        &json!({"name": "DrawError", "kind": "enum", "params": [], "variants": [
            {"name": "Full", "index": 0, "fields": []}
        ]})
    );
}

#[test]
fn storage_gives_the_root_fields_and_each_mapping_with_its_prefix() {
    let m = meta();
    let shapes_prefix = format!("0x{}", hex::encode(&blake2_256(b"Canvas::shapes")[..4]));
    let tags_prefix = format!("0x{}", hex::encode(&blake2_256(b"Canvas::tags")[..4]));
    assert_eq!(
        m["storage"],
        json!({
            "struct": "Canvas",
            "root": {"key": "0x00000000", "fields": [
                {"name": "owner", "type": "AccountId"},
                {"name": "level", "type": "Level"},
                {"name": "count", "type": "u32"}
            ]},
            "mappings": [
                {"name": "shapes", "prefix": shapes_prefix, "key": "u32", "value": "Shape"},
                {"name": "tags", "prefix": tags_prefix, "key": "(AccountId, u8)", "value": "Wrapper<Pair>"}
            ]
        })
    );
}

#[test]
fn the_described_layout_is_where_the_contract_writes() {
    let m = meta();
    let mut input = blake2_256(b"new")[..4].to_vec();
    input.extend(Level::High.encode());
    test::execute(Canvas::__watt_deploy, &input).unwrap();
    let mut input = blake2_256(b"draw")[..4].to_vec();
    input.extend((9u32, Shape::Dot).encode());
    test::execute(Canvas::__watt_call, &input).unwrap();

    // Root: owner, level, count in the listed order.
    let root_key = hex::decode(m["storage"]["root"]["key"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let mut root = test::default_accounts().alice.encode();
    root.extend(Level::High.encode());
    root.extend(1u32.encode());
    assert_eq!(test::storage_of(&test::CONTRACT, &root_key), Some(root));

    // The entry: prefix ++ SCALE(key).
    let prefix = m["storage"]["mappings"][0]["prefix"].as_str().unwrap();
    let mut key = hex::decode(prefix.trim_start_matches("0x")).unwrap();
    key.extend(9u32.encode());
    assert_eq!(test::storage_of(&test::CONTRACT, &key), Some(Shape::Dot.encode()));
}
