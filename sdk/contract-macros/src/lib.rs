//! The attribute macros of the Watt contract SDK (`watt-contract` re-exports them; use them
//! through it, since the generated code names `::watt_contract`).
//!
//! `#[contract]` goes on an inline module holding one `#[storage]` struct, any number of
//! `#[event]` structs and `impl` blocks of the storage struct whose functions are marked
//! `#[constructor]` / `#[constructor(payable)]` or `#[message]` / `#[message(payable)]`. It
//! generates, following `pallets/contracts/ABI.md`:
//! - the storage layout: plain fields SCALE-encoded together under the root key, `Mapping`
//!   fields given their own 4-byte prefix (`blake2b-256("<Struct>::<field>")[..4]`);
//! - for each event: SCALE derives and `watt_contract::Event` (index, topics, data);
//! - `__watt_deploy` / `__watt_call`: selector dispatch over the SCALE-decoded input (pure
//!   functions, callable natively in tests), and on wasm32 the exported `deploy` / `call`. A
//!   message reverts when its return value says so through `watt_contract::dispatch::Reverts`
//!   (an `Err` of any `Result`, however the type is spelled or aliased), decided by the type
//!   system, not by the type's name;
//! - natively (not on wasm32), each message wrapped as a unit of the off-chain environment, so
//!   that a test calling it directly sees a revert undo its storage writes, events and
//!   transfers, and its storage deposit settled (`watt_contract::test::MessageUnit`); the
//!   wasm32 build compiles the message exactly as written;
//! - the ABI metadata JSON: `__watt_metadata()`, and on wasm32 a custom section `watt_metadata`.
//!   Besides ABI.md's fields it has `types`, the definitions of the module's custom types the
//!   interface uses (structs and enums deriving the SCALE codec, with fields, variant indices,
//!   `compact` / `encoded_as`, skipped fields and variants left out; type aliases), and
//!   `storage`, the layout: the root key with the plain fields in encoding order, and each
//!   Mapping's name, 4-byte prefix, key and value type. Types defined outside the contract
//!   module appear by name only.
//!
//! Selectors and topics are computed here, at compile time (blake2b-256 of the name).

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, ToTokens};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    parse_macro_input, Attribute, Error, Fields, FnArg, GenericArgument, Ident, ImplItem, Item, ItemMod, ItemStruct,
    LitByteStr, LitStr, Pat, PathArguments, ReturnType, Token, Type,
};

/// blake2b-256 of `data`.
fn blake2_256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Blake2b::<U32>::digest(data));
    out
}

/// The selector convention of ABI.md: the first 4 bytes of blake2b-256(name).
fn selector_of(name: &str) -> [u8; 4] {
    let h = blake2_256(name.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::from("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// `watt_contract::selector!("transfer")`: the `Selector` of a message or constructor name,
/// computed at compile time.
#[proc_macro]
pub fn selector(input: TokenStream) -> TokenStream {
    let name = parse_macro_input!(input as LitStr);
    let [a, b, c, d] = selector_of(&name.value());
    quote!(::watt_contract::Selector::new([#a, #b, #c, #d])).into()
}

/// Turns a contract module into a deployable contract; see the crate docs and
/// `watt_contract`'s docs for the syntax.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = TokenStream2::from(attr);
    if !attr.is_empty() {
        return Error::new(attr.span(), "#[contract] takes no arguments")
            .to_compile_error()
            .into();
    }
    let module = parse_macro_input!(item as ItemMod);
    match expand(module) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Whether `attrs` holds `#[name]` or `#[name(...)]`; removes it and returns its arguments.
fn take_attr(attrs: &mut Vec<Attribute>, name: &str) -> syn::Result<Option<Vec<Ident>>> {
    let Some(pos) = attrs.iter().position(|a| a.path().is_ident(name)) else {
        return Ok(None);
    };
    let attr = attrs.remove(pos);
    let args = match &attr.meta {
        syn::Meta::Path(_) => Vec::new(),
        syn::Meta::List(list) => list
            .parse_args_with(Punctuated::<Ident, Token![,]>::parse_terminated)?
            .into_iter()
            .collect(),
        syn::Meta::NameValue(nv) => {
            return Err(Error::new(nv.span(), format!("write #[{name}] or #[{name}(payable)]")))
        }
    };
    if attrs.iter().any(|a| a.path().is_ident(name)) {
        return Err(Error::new(attr.span(), format!("#[{name}] given twice")));
    }
    Ok(Some(args))
}

/// Parses `payable` (the only flag) out of an attribute's arguments.
fn payable_flag(args: &[Ident], what: &str) -> syn::Result<bool> {
    let mut payable = false;
    for a in args {
        if a == "payable" {
            payable = true;
        } else {
            return Err(Error::new(
                a.span(),
                format!("unknown {what} flag `{a}`; the only flag is `payable`"),
            ));
        }
    }
    Ok(payable)
}

/// The last path segment's name of a type, if it is a path.
fn last_ident(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => last_ident(&g.elem),
        Type::Paren(p) => last_ident(&p.elem),
        _ => None,
    }
}

/// The metadata spelling of a type: paths by their last segment with generic arguments,
/// tuples, arrays, slices and references, e.g. `Option<AccountId>`, `Result<(), Error>`.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Path(p) => match p.path.segments.last() {
            Some(seg) => {
                let mut s = seg.ident.to_string();
                if let PathArguments::AngleBracketed(args) = &seg.arguments {
                    let inner: Vec<String> = args
                        .args
                        .iter()
                        .map(|a| match a {
                            GenericArgument::Type(t) => type_name(t),
                            other => other.to_token_stream().to_string().replace(' ', ""),
                        })
                        .collect();
                    s.push('<');
                    s.push_str(&inner.join(", "));
                    s.push('>');
                }
                s
            }
            None => String::new(),
        },
        Type::Tuple(t) => {
            let inner: Vec<String> = t.elems.iter().map(type_name).collect();
            if inner.len() == 1 {
                format!("({},)", inner[0])
            } else {
                format!("({})", inner.join(", "))
            }
        }
        Type::Array(a) => format!(
            "[{}; {}]",
            type_name(&a.elem),
            a.len.to_token_stream().to_string().replace(' ', "")
        ),
        Type::Slice(s) => format!("[{}]", type_name(&s.elem)),
        Type::Reference(r) => format!("&{}", type_name(&r.elem)),
        Type::Group(g) => type_name(&g.elem),
        Type::Paren(p) => type_name(&p.elem),
        other => other.to_token_stream().to_string().replace(' ', ""),
    }
}

/// A JSON string literal (names and type spellings only contain ASCII punctuation, but escape
/// anyway).
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct EventDef {
    ident: Ident,
    /// (field name, type, is topic)
    fields: Vec<(Ident, Type, bool)>,
}

struct Callable {
    ident: Ident,
    /// `Some(true)` for `&mut self`, `Some(false)` for `&self`, `None` for a constructor.
    receiver_mut: Option<bool>,
    args: Vec<(Ident, Type)>,
    output: Option<Type>,
    payable: bool,
}

fn parse_callable(f: &syn::ImplItemFn, payable: bool, constructor: bool, storage: &Ident) -> syn::Result<Callable> {
    let sig = &f.sig;
    if !sig.generics.params.is_empty() || sig.asyncness.is_some() || sig.unsafety.is_some() {
        return Err(Error::new(
            sig.span(),
            "contract functions may not be generic, async or unsafe",
        ));
    }
    let mut receiver_mut = None;
    let mut args = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                if constructor {
                    return Err(Error::new(r.span(), "a constructor takes no `self`; it returns `Self`"));
                }
                if r.reference.is_none() {
                    return Err(Error::new(r.span(), "a message takes `&self` or `&mut self`"));
                }
                receiver_mut = Some(r.mutability.is_some());
            }
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                    args.push((pi.ident.clone(), (*pt.ty).clone()))
                }
                other => {
                    return Err(Error::new(
                        other.span(),
                        "arguments must be plain names (`amount: u128`)",
                    ))
                }
            },
        }
    }
    if !constructor && receiver_mut.is_none() {
        return Err(Error::new(sig.span(), "a message takes `&self` or `&mut self` first"));
    }
    let output = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, t) => Some((**t).clone()),
    };
    if constructor {
        let ok = match output.as_ref().and_then(last_ident) {
            Some(seg) => seg.ident == "Self" || seg.ident == *storage,
            None => false,
        };
        if !ok {
            return Err(Error::new(sig.span(), "a constructor returns `Self`"));
        }
    }
    Ok(Callable {
        ident: sig.ident.clone(),
        receiver_mut,
        args,
        output,
        payable,
    })
}

fn expand(mut module: ItemMod) -> syn::Result<TokenStream2> {
    let mod_name = module.ident.to_string();
    let Some((_, items)) = module.content.as_mut() else {
        return Err(Error::new(
            module.span(),
            "#[contract] needs an inline module: `mod name { ... }`",
        ));
    };

    // Pass 1: the storage struct, events and the custom types (for the metadata).
    let mut storage: Option<Ident> = None;
    let mut storage_fields: Vec<StorageField> = Vec::new();
    let mut events: Vec<EventDef> = Vec::new();
    let mut types: Vec<TypeDef> = Vec::new();
    for item in items.iter_mut() {
        match item {
            Item::Struct(s) => {
                if take_attr(&mut s.attrs, "storage")?.is_some() {
                    if storage.is_some() {
                        return Err(Error::new(s.span(), "a contract has exactly one #[storage] struct"));
                    }
                    storage_fields = storage_layout(s)?;
                    storage = Some(s.ident.clone());
                } else if take_attr(&mut s.attrs, "event")?.is_some() {
                    events.push(event_def(s)?);
                } else if derives_codec(&s.attrs) {
                    types.push(struct_type_def(s));
                }
            }
            Item::Enum(e) if derives_codec(&e.attrs) => types.push(enum_type_def(e)),
            Item::Type(t) => types.push(alias_type_def(t)),
            _ => {}
        }
    }
    let Some(storage) = storage else {
        return Err(Error::new(
            module.ident.span(),
            "the contract module needs a #[storage] struct",
        ));
    };
    if events.len() > 256 {
        return Err(Error::new(
            module.ident.span(),
            "at most 256 events (the index is a u8)",
        ));
    }

    // Pass 2: constructors and messages. Natively each message is wrapped so that a direct
    // call from a test behaves like a call on chain (see `native_wrapped`).
    let mut constructors = Vec::new();
    let mut messages = Vec::new();
    for item in items.iter_mut() {
        let Item::Impl(imp) = item else { continue };
        let is_storage = imp.trait_.is_none() && last_ident(&imp.self_ty).is_some_and(|s| s.ident == storage);
        if !is_storage {
            continue;
        }
        let mut rewritten = Vec::with_capacity(imp.items.len());
        for mut ii in core::mem::take(&mut imp.items) {
            let ImplItem::Fn(f) = &mut ii else {
                rewritten.push(ii);
                continue;
            };
            let ctor = take_attr(&mut f.attrs, "constructor")?;
            let msg = take_attr(&mut f.attrs, "message")?;
            if (ctor.is_some() || msg.is_some()) && !matches!(f.vis, syn::Visibility::Public(_)) {
                return Err(Error::new(f.sig.span(), "constructors and messages must be `pub`"));
            }
            match (ctor, msg) {
                (Some(_), Some(_)) => {
                    return Err(Error::new(
                        f.sig.span(),
                        "a function is a constructor or a message, not both",
                    ))
                }
                (Some(args), None) => {
                    constructors.push(parse_callable(f, payable_flag(&args, "constructor")?, true, &storage)?);
                    rewritten.push(ii);
                }
                (None, Some(args)) => {
                    let c = parse_callable(f, payable_flag(&args, "message")?, false, &storage)?;
                    rewritten.extend(native_wrapped(f, &c));
                    messages.push(c);
                }
                (None, None) => rewritten.push(ii),
            }
        }
        imp.items = rewritten;
    }
    if constructors.is_empty() {
        return Err(Error::new(
            storage.span(),
            "the contract needs at least one #[constructor]",
        ));
    }
    check_unique(&constructors, "constructor")?;
    check_unique(&messages, "message")?;

    let storage_impl = storage_impl(&storage, &storage_fields);
    let event_impls = events.iter().enumerate().map(|(i, e)| event_impl(i as u8, e));
    let deploy_fn = dispatch_fn(&storage, &constructors, true);
    let call_fn = dispatch_fn(&storage, &messages, false);
    let used = used_types(&types, &constructors, &messages, &events, &storage_fields);
    let json = metadata_json(
        &mod_name,
        &constructors,
        &messages,
        &events,
        &used,
        &storage,
        &storage_fields,
    );
    let json_lit = LitStr::new(&json, Span::call_site());
    let json_bytes = LitByteStr::new(json.as_bytes(), Span::call_site());
    let json_len = json.len();

    let generated: TokenStream2 = quote! {
        #storage_impl
        #(#event_impls)*

        impl #storage {
            #deploy_fn
            #call_fn
        }

        /// The ABI metadata of this contract (ABI.md "Metadata"), with the definitions of the
        /// custom types it uses and its storage layout.
        pub fn __watt_metadata() -> &'static str {
            #json_lit
        }

        /// The metadata in the `watt_metadata` custom section, where `watt contract build`
        /// finds it.
        #[cfg(target_arch = "wasm32")]
        #[link_section = "watt_metadata"]
        #[used]
        static __WATT_METADATA: [u8; #json_len] = *#json_bytes;

        /// The entry point of instantiation: runs the constructor the input selects.
        #[cfg(target_arch = "wasm32")]
        #[no_mangle]
        pub extern "C" fn deploy() {
            ::watt_contract::dispatch::execute(#storage::__watt_deploy)
        }

        /// The entry point of every message call.
        #[cfg(target_arch = "wasm32")]
        #[no_mangle]
        pub extern "C" fn call() {
            ::watt_contract::dispatch::execute(#storage::__watt_call)
        }
    };
    let generated_items: syn::File = syn::parse2(generated)?;
    items.extend(generated_items.items);
    Ok(module.into_token_stream())
}

/// Whether the value `value` (an expression of a message's return type) asks for a revert:
/// resolved by its type through `watt_contract::dispatch::RevertProbe`, never by how the type
/// is spelled.
fn revert_probe(value: &TokenStream2) -> TokenStream2 {
    quote!({
        #[allow(unused_imports)]
        use ::watt_contract::dispatch::{NeverReverts as _, RevertsByType as _};
        (&::watt_contract::dispatch::RevertProbe(&#value)).__watt_reverts()
    })
}

/// A message as three functions: on wasm32 the message exactly as written; natively a wrapper
/// of the same signature around the body (moved to a hidden `__watt_native_<name>`). The
/// wrapper runs the message as one unit of the off-chain environment
/// (`watt_contract::test::MessageUnit`): when a test calls it directly and it asks for a revert
/// (returns `Err`), the storage writes, events and transfers it made are undone and, for a
/// `&mut self` message, the struct's plain fields are restored, as on chain; its storage
/// deposit is settled when it succeeds.
fn native_wrapped(f: &syn::ImplItemFn, c: &Callable) -> Vec<ImplItem> {
    let mut onchain = f.clone();
    onchain.attrs.push(syn::parse_quote!(#[cfg(target_arch = "wasm32")]));

    let inner_ident = format_ident!("__watt_native_{}", f.sig.ident);
    let mut inner = f.clone();
    inner.sig.ident = inner_ident.clone();
    inner.vis = syn::Visibility::Inherited;
    inner.attrs.retain(|a| !a.path().is_ident("doc"));
    inner.attrs.push(syn::parse_quote!(#[cfg(not(target_arch = "wasm32"))]));
    inner.attrs.push(syn::parse_quote!(#[doc(hidden)]));
    inner
        .attrs
        .push(syn::parse_quote!(#[allow(clippy::too_many_arguments)]));

    let mut wrapper = f.clone();
    for input in wrapper.sig.inputs.iter_mut() {
        if let FnArg::Typed(pt) = input {
            if let Pat::Ident(pi) = &mut *pt.pat {
                pi.mutability = None;
            }
        }
    }
    wrapper
        .attrs
        .push(syn::parse_quote!(#[cfg(not(target_arch = "wasm32"))]));
    let args: Vec<&Ident> = c.args.iter().map(|a| &a.0).collect();
    let probe = revert_probe(&quote!(__watt_result));
    let (save, restore) = if c.receiver_mut == Some(true) {
        (
            quote! {
                let __watt_root = __watt_unit
                    .is_outermost()
                    .then(|| ::watt_contract::storage::ContractStorage::encode_root(&*self));
            },
            quote! {
                if let ::core::option::Option::Some(__watt_root) = __watt_root {
                    *self = <Self as ::watt_contract::storage::ContractStorage>::decode_root(&mut &__watt_root[..])
                        .expect("the plain fields decode from their own encoding");
                }
            },
        )
    } else {
        (quote!(), quote!())
    };
    wrapper.block = syn::parse_quote!({
        let __watt_unit = ::watt_contract::test::MessageUnit::begin();
        #save
        #[allow(clippy::let_unit_value)]
        let __watt_result = Self::#inner_ident(self, #(#args),*);
        let __watt_revert: bool = #probe;
        if __watt_unit.end(__watt_revert) {
            #restore
        }
        __watt_result
    });
    std::vec![ImplItem::Fn(onchain), ImplItem::Fn(wrapper), ImplItem::Fn(inner),]
}

fn check_unique(list: &[Callable], what: &str) -> syn::Result<()> {
    for (i, a) in list.iter().enumerate() {
        for b in &list[..i] {
            if selector_of(&a.ident.to_string()) == selector_of(&b.ident.to_string()) {
                return Err(Error::new(
                    a.ident.span(),
                    format!("{what} `{}` has the same selector as `{}`", a.ident, b.ident),
                ));
            }
        }
    }
    Ok(())
}

/// A field of the `#[storage]` struct.
struct StorageField {
    ident: Ident,
    /// Its type (for a Mapping, with the prefix argument the macro added).
    ty: Type,
    /// For a `Mapping<K, V>`: its prefix bytes, `K` and `V`.
    mapping: Option<([u8; 4], Type, Type)>,
}

/// Gives each `Mapping` field its prefix (as a const generic argument) and returns the fields.
fn storage_layout(s: &mut ItemStruct) -> syn::Result<Vec<StorageField>> {
    if !s.generics.params.is_empty() {
        return Err(Error::new(
            s.generics.span(),
            "the #[storage] struct may not be generic",
        ));
    }
    let struct_name = s.ident.to_string();
    let Fields::Named(named) = &mut s.fields else {
        return Err(Error::new(
            s.span(),
            "the #[storage] struct needs named fields (`struct S { a: u128 }`)",
        ));
    };
    let mut out = Vec::new();
    let mut prefixes: Vec<(u32, Ident)> = Vec::new();
    for f in named.named.iter_mut() {
        let ident = f.ident.clone().expect("named fields have names");
        let mut mapping = None;
        if let Type::Path(tp) = &mut f.ty {
            if let Some(seg) = tp.path.segments.last_mut() {
                if seg.ident == "Mapping" {
                    let PathArguments::AngleBracketed(args) = &mut seg.arguments else {
                        return Err(Error::new(seg.span(), "write `Mapping<K, V>`"));
                    };
                    let (key, value) = match (args.args.len(), args.args.first(), args.args.last()) {
                        (2, Some(GenericArgument::Type(k)), Some(GenericArgument::Type(v))) => (k.clone(), v.clone()),
                        _ => {
                            return Err(Error::new(
                                args.span(),
                                "write `Mapping<K, V>`; the macro adds the storage prefix itself",
                            ))
                        }
                    };
                    let h = blake2_256(format!("{struct_name}::{ident}").as_bytes());
                    let bytes = [h[0], h[1], h[2], h[3]];
                    let p = u32::from_le_bytes(bytes);
                    if p == 0 {
                        return Err(Error::new(
                            ident.span(),
                            "this field's prefix is the root key; rename it",
                        ));
                    }
                    if let Some((_, other)) = prefixes.iter().find(|(q, _)| *q == p) {
                        return Err(Error::new(
                            ident.span(),
                            format!("this field's prefix collides with `{other}`"),
                        ));
                    }
                    prefixes.push((p, ident.clone()));
                    let lit = syn::LitInt::new(&format!("{p}u32"), ident.span());
                    args.args.push(syn::parse_quote!({ #lit }));
                    mapping = Some((bytes, key, value));
                }
            }
        }
        out.push(StorageField {
            ident,
            ty: f.ty.clone(),
            mapping,
        });
    }
    Ok(out)
}

fn storage_impl(storage: &Ident, fields: &[StorageField]) -> TokenStream2 {
    let encodes = fields.iter().filter(|f| f.mapping.is_none()).map(|f| {
        let name = &f.ident;
        quote!(::watt_contract::scale::Encode::encode_to(&self.#name, &mut __out);)
    });
    let decodes = fields.iter().map(|f| {
        let (name, ty) = (&f.ident, &f.ty);
        if f.mapping.is_some() {
            quote!(#name: ::watt_contract::Mapping::new(),)
        } else {
            quote!(#name: <#ty as ::watt_contract::scale::Decode>::decode(__input)?,)
        }
    });
    quote! {
        impl ::watt_contract::storage::ContractStorage for #storage {
            fn encode_root(&self) -> ::watt_contract::alloc::vec::Vec<u8> {
                let mut __out = ::watt_contract::alloc::vec::Vec::new();
                #(#encodes)*
                __out
            }
            fn decode_root(__input: &mut &[u8]) -> ::core::result::Result<Self, ::watt_contract::scale::Error> {
                ::core::result::Result::Ok(Self { #(#decodes)* })
            }
        }
    }
}

fn event_def(s: &mut ItemStruct) -> syn::Result<EventDef> {
    if !s.generics.params.is_empty() {
        return Err(Error::new(s.generics.span(), "an #[event] struct may not be generic"));
    }
    let mut fields = Vec::new();
    match &mut s.fields {
        Fields::Named(named) => {
            for f in named.named.iter_mut() {
                let topic = take_attr(&mut f.attrs, "topic")?.is_some();
                fields.push((f.ident.clone().expect("named"), f.ty.clone(), topic));
            }
        }
        Fields::Unit => {}
        Fields::Unnamed(u) => return Err(Error::new(u.span(), "an #[event] struct needs named fields")),
    }
    if fields.iter().filter(|f| f.2).count() > 3 {
        return Err(Error::new(
            s.ident.span(),
            "at most 3 #[topic] fields (the event name is the 4th topic)",
        ));
    }
    s.attrs
        .push(syn::parse_quote!(#[derive(::watt_contract::scale::Encode, ::watt_contract::scale::Decode)]));
    s.attrs
        .push(syn::parse_quote!(#[codec(crate = ::watt_contract::scale)]));
    Ok(EventDef {
        ident: s.ident.clone(),
        fields,
    })
}

fn event_impl(index: u8, e: &EventDef) -> TokenStream2 {
    let ident = &e.ident;
    let name = ident.to_string();
    let sig = blake2_256(name.as_bytes());
    let topic_pushes = e
        .fields
        .iter()
        .filter(|f| f.2)
        .map(|(f, _, _)| quote!(__topics.push(::watt_contract::event::topic_of(&self.#f));));
    quote! {
        impl ::watt_contract::Event for #ident {
            const NAME: &'static str = #name;
            const INDEX: u8 = #index;
            const SIGNATURE_TOPIC: [u8; 32] = [#(#sig),*];
            fn topics(&self) -> ::watt_contract::alloc::vec::Vec<[u8; 32]> {
                let mut __topics = ::watt_contract::alloc::vec::Vec::with_capacity(4);
                __topics.push(Self::SIGNATURE_TOPIC);
                #(#topic_pushes)*
                __topics
            }
        }
    }
}

fn dispatch_fn(storage: &Ident, list: &[Callable], deploy: bool) -> TokenStream2 {
    let fn_name = if deploy {
        format_ident!("__watt_deploy")
    } else {
        format_ident!("__watt_call")
    };
    let arms = list.iter().map(|c| {
        let name = c.ident.to_string();
        let ident = &c.ident;
        let [s0, s1, s2, s3] = selector_of(&name);
        let payable_check = if c.payable {
            quote!()
        } else {
            quote!(::watt_contract::dispatch::ensure_not_paid(#name)?;)
        };
        let arg_names: Vec<&Ident> = c.args.iter().map(|a| &a.0).collect();
        let decodes = c.args.iter().map(|(a, ty)| {
            let an = a.to_string();
            quote!(let #a: #ty = ::watt_contract::dispatch::decode_arg(&mut __args, #name, #an)?;)
        });
        let body = if deploy {
            quote! {
                let __instance: #storage = #storage::#ident(#(#arg_names),*);
                ::watt_contract::storage::ContractStorage::store(&__instance);
                ::core::result::Result::Ok(::watt_contract::dispatch::Outcome::success(
                    ::watt_contract::alloc::vec::Vec::new(),
                ))
            }
        } else {
            let mutates = c.receiver_mut == Some(true);
            let load = if mutates {
                quote!(let (mut __instance, __root): (#storage, _) = ::watt_contract::dispatch::load_with_root()?;)
            } else {
                quote!(let __instance: #storage = ::watt_contract::dispatch::load()?;)
            };
            let recv = if mutates {
                quote!(&mut __instance)
            } else {
                quote!(&__instance)
            };
            // Whether the value asks for a revert is decided by its type, not its spelling: an
            // `Err` of any `Result<T, E>` (however it is written: `core::result::Result`, an
            // alias ...) or any type implementing `dispatch::Reverts`; every other type never
            // reverts (autoref dispatch, see `dispatch::RevertProbe`).
            let revert = revert_probe(&quote!(__result));
            let store = if mutates {
                quote!(if !__revert {
                    ::watt_contract::storage::ContractStorage::store_if_changed(&__instance, &__root);
                })
            } else {
                quote!()
            };
            quote! {
                #load
                #[allow(clippy::let_unit_value)]
                let __result = #storage::#ident(#recv, #(#arg_names),*);
                let __revert: bool = #revert;
                #store
                ::core::result::Result::Ok(::watt_contract::dispatch::Outcome {
                    revert: __revert,
                    output: ::watt_contract::scale::Encode::encode(&__result),
                })
            }
        };
        quote! {
            [#s0, #s1, #s2, #s3] => {
                #payable_check
                #(#decodes)*
                ::watt_contract::dispatch::ensure_consumed(__args, #name)?;
                #body
            }
        }
    });
    let doc = if deploy {
        "Runs the constructor `input` selects (selector ++ SCALE(args)) and stores the new state."
    } else {
        "Runs the message `input` selects (selector ++ SCALE(args)); writes state back after a `&mut self` message that did not fail."
    };
    quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #[allow(unused_mut)]
        pub fn #fn_name(__input: &[u8]) -> ::watt_contract::dispatch::DispatchResult {
            let (__selector, mut __args) = ::watt_contract::dispatch::split_selector(__input)?;
            match __selector {
                #(#arms)*
                _ => ::core::result::Result::Err(::watt_contract::dispatch::DispatchError::UnknownSelector(__selector)),
            }
        }
    }
}

/// A custom type of the contract module, for the metadata: a struct or enum deriving the SCALE
/// codec (`Encode`/`Decode`), or a type alias.
struct TypeDef {
    name: String,
    /// Its JSON object.
    json: String,
    /// The names of the types its definition mentions.
    refs: Vec<String>,
}

/// Whether `attrs` derive `Encode` or `Decode` (any path ending so, e.g.
/// `parity_scale_codec::Encode`, `watt_contract::scale::Decode`).
fn derives_codec(attrs: &[Attribute]) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        a.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
            .map(|list| {
                list.iter().any(|p| {
                    p.segments
                        .last()
                        .is_some_and(|s| s.ident == "Encode" || s.ident == "Decode")
                })
            })
            .unwrap_or(false)
    })
}

/// The `#[codec(..)]` attributes that change an encoding.
#[derive(Default)]
struct CodecAttrs {
    skip: bool,
    compact: bool,
    index: Option<String>,
    encoded_as: Option<String>,
}

fn codec_attrs(attrs: &[Attribute]) -> CodecAttrs {
    let mut out = CodecAttrs::default();
    for a in attrs.iter().filter(|a| a.path().is_ident("codec")) {
        let Ok(list) = a.parse_args_with(Punctuated::<syn::Meta, Token![,]>::parse_terminated) else {
            continue;
        };
        for m in list {
            match &m {
                syn::Meta::Path(p) if p.is_ident("skip") => out.skip = true,
                syn::Meta::Path(p) if p.is_ident("compact") => out.compact = true,
                syn::Meta::NameValue(nv) if nv.path.is_ident("index") => {
                    out.index = Some(nv.value.to_token_stream().to_string().replace(' ', ""))
                }
                syn::Meta::NameValue(nv) if nv.path.is_ident("encoded_as") => {
                    if let syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(l), ..
                    }) = &nv.value
                    {
                        out.encoded_as = Some(l.value().replace(' ', ""));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Every type name a type mentions (each path segment's ident, generic arguments included).
fn type_refs(ty: &Type, out: &mut Vec<String>) {
    match ty {
        Type::Path(p) => {
            if let Some(q) = &p.qself {
                type_refs(&q.ty, out);
            }
            for seg in &p.path.segments {
                out.push(seg.ident.to_string());
                if let PathArguments::AngleBracketed(args) = &seg.arguments {
                    for a in &args.args {
                        if let GenericArgument::Type(t) = a {
                            type_refs(t, out);
                        }
                    }
                }
            }
        }
        Type::Tuple(t) => t.elems.iter().for_each(|e| type_refs(e, out)),
        Type::Array(a) => type_refs(&a.elem, out),
        Type::Slice(s) => type_refs(&s.elem, out),
        Type::Reference(r) => type_refs(&r.elem, out),
        Type::Group(g) => type_refs(&g.elem, out),
        Type::Paren(p) => type_refs(&p.elem, out),
        _ => {}
    }
}

/// The names of a definition's type and const parameters, as a JSON array.
fn params_json(g: &syn::Generics) -> String {
    let names: Vec<String> = g
        .params
        .iter()
        .filter_map(|p| match p {
            syn::GenericParam::Type(t) => Some(json_str(&t.ident.to_string())),
            syn::GenericParam::Const(c) => Some(json_str(&c.ident.to_string())),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();
    format!("[{}]", names.join(","))
}

/// The encoded fields (those not `#[codec(skip)]`) as a JSON array: `name` (named fields only),
/// `type`, and `compact` / `encoded_as` when the field carries them.
fn fields_json(fields: &Fields, refs: &mut Vec<String>) -> String {
    let list: Vec<String> = fields
        .iter()
        .filter_map(|f| {
            let attrs = codec_attrs(&f.attrs);
            if attrs.skip {
                return None;
            }
            type_refs(&f.ty, refs);
            let mut o = String::from("{");
            if let Some(n) = &f.ident {
                o.push_str(&format!("\"name\":{},", json_str(&n.to_string())));
            }
            o.push_str(&format!("\"type\":{}", json_str(&type_name(&f.ty))));
            if attrs.compact {
                o.push_str(",\"compact\":true");
            }
            if let Some(t) = &attrs.encoded_as {
                o.push_str(&format!(",\"encoded_as\":{}", json_str(t)));
            }
            o.push('}');
            Some(o)
        })
        .collect();
    format!("[{}]", list.join(","))
}

fn struct_type_def(s: &ItemStruct) -> TypeDef {
    let name = s.ident.to_string();
    let mut refs = Vec::new();
    let fields = fields_json(&s.fields, &mut refs);
    TypeDef {
        json: format!(
            "{{\"name\":{},\"kind\":\"struct\",\"params\":{},\"fields\":{}}}",
            json_str(&name),
            params_json(&s.generics),
            fields
        ),
        name,
        refs,
    }
}

/// An enum: its variants (those not `#[codec(skip)]`) with their SCALE index, which is
/// `#[codec(index = N)]`, else the explicit discriminant, else the position among the encoded
/// variants (as the codec's derive decides). An index that is not an integer literal is given
/// as its expression text.
fn enum_type_def(e: &syn::ItemEnum) -> TypeDef {
    let name = e.ident.to_string();
    let mut refs = Vec::new();
    let variants: Vec<String> = e
        .variants
        .iter()
        .filter(|v| !codec_attrs(&v.attrs).skip)
        .enumerate()
        .map(|(i, v)| {
            let attrs = codec_attrs(&v.attrs);
            let index = attrs
                .index
                .or_else(|| {
                    v.discriminant
                        .as_ref()
                        .map(|(_, d)| d.to_token_stream().to_string().replace(' ', ""))
                })
                .unwrap_or_else(|| i.to_string());
            let index = match index.parse::<u8>() {
                Ok(n) => n.to_string(),
                Err(_) => json_str(&index),
            };
            format!(
                "{{\"name\":{},\"index\":{},\"fields\":{}}}",
                json_str(&v.ident.to_string()),
                index,
                fields_json(&v.fields, &mut refs)
            )
        })
        .collect();
    TypeDef {
        json: format!(
            "{{\"name\":{},\"kind\":\"enum\",\"params\":{},\"variants\":[{}]}}",
            json_str(&name),
            params_json(&e.generics),
            variants.join(",")
        ),
        name,
        refs,
    }
}

fn alias_type_def(t: &syn::ItemType) -> TypeDef {
    let name = t.ident.to_string();
    let mut refs = Vec::new();
    type_refs(&t.ty, &mut refs);
    TypeDef {
        json: format!(
            "{{\"name\":{},\"kind\":\"alias\",\"params\":{},\"type\":{}}}",
            json_str(&name),
            params_json(&t.generics),
            json_str(&type_name(&t.ty))
        ),
        name,
        refs,
    }
}

/// The custom types the contract's interface uses: those named by a constructor's or message's
/// arguments or return type, an event's fields or a storage field, and the types their
/// definitions name in turn; in declaration order.
fn used_types<'a>(
    types: &'a [TypeDef],
    constructors: &[Callable],
    messages: &[Callable],
    events: &[EventDef],
    storage: &[StorageField],
) -> Vec<&'a TypeDef> {
    let mut pending = Vec::new();
    for c in constructors.iter().chain(messages) {
        c.args.iter().for_each(|(_, t)| type_refs(t, &mut pending));
        if let Some(t) = &c.output {
            type_refs(t, &mut pending);
        }
    }
    for e in events {
        e.fields.iter().for_each(|(_, t, _)| type_refs(t, &mut pending));
    }
    for f in storage {
        match &f.mapping {
            Some((_, k, v)) => {
                type_refs(k, &mut pending);
                type_refs(v, &mut pending);
            }
            None => type_refs(&f.ty, &mut pending),
        }
    }
    let mut used = vec![false; types.len()];
    while let Some(name) = pending.pop() {
        for (i, t) in types.iter().enumerate() {
            if !used[i] && t.name == name {
                used[i] = true;
                pending.extend(t.refs.iter().cloned());
            }
        }
    }
    types.iter().zip(used).filter(|(_, u)| *u).map(|(t, _)| t).collect()
}

/// The storage layout as JSON: the root value (its key and the plain fields SCALE-encoded in
/// this order) and each Mapping (entries at `prefix ++ SCALE(key)`).
fn storage_json(storage: &Ident, fields: &[StorageField]) -> String {
    let root: Vec<String> = fields
        .iter()
        .filter(|f| f.mapping.is_none())
        .map(|f| {
            format!(
                "{{\"name\":{},\"type\":{}}}",
                json_str(&f.ident.to_string()),
                json_str(&type_name(&f.ty))
            )
        })
        .collect();
    let mappings: Vec<String> = fields
        .iter()
        .filter_map(|f| {
            let (prefix, k, v) = f.mapping.as_ref()?;
            Some(format!(
                "{{\"name\":{},\"prefix\":\"{}\",\"key\":{},\"value\":{}}}",
                json_str(&f.ident.to_string()),
                hex(prefix),
                json_str(&type_name(k)),
                json_str(&type_name(v))
            ))
        })
        .collect();
    format!(
        "{{\"struct\":{},\"root\":{{\"key\":\"0x00000000\",\"fields\":[{}]}},\"mappings\":[{}]}}",
        json_str(&storage.to_string()),
        root.join(","),
        mappings.join(",")
    )
}

fn metadata_json(
    name: &str,
    constructors: &[Callable],
    messages: &[Callable],
    events: &[EventDef],
    types: &[&TypeDef],
    storage: &Ident,
    storage_fields: &[StorageField],
) -> String {
    fn args(c: &Callable) -> String {
        let list: Vec<String> = c
            .args
            .iter()
            .map(|(n, t)| {
                format!(
                    "{{\"name\":{},\"type\":{}}}",
                    json_str(&n.to_string()),
                    json_str(&type_name(t))
                )
            })
            .collect();
        format!("[{}]", list.join(","))
    }
    let ctors: Vec<String> = constructors
        .iter()
        .map(|c| {
            let n = c.ident.to_string();
            format!(
                "{{\"name\":{},\"selector\":\"{}\",\"payable\":{},\"args\":{}}}",
                json_str(&n),
                hex(&selector_of(&n)),
                c.payable,
                args(c)
            )
        })
        .collect();
    let msgs: Vec<String> = messages
        .iter()
        .map(|c| {
            let n = c.ident.to_string();
            let returns = c.output.as_ref().map(type_name).unwrap_or_else(|| "()".into());
            format!(
                "{{\"name\":{},\"selector\":\"{}\",\"mutates\":{},\"payable\":{},\"args\":{},\"returns\":{}}}",
                json_str(&n),
                hex(&selector_of(&n)),
                c.receiver_mut == Some(true),
                c.payable,
                args(c),
                json_str(&returns)
            )
        })
        .collect();
    let evs: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let fields: Vec<String> = e
                .fields
                .iter()
                .map(|(n, t, topic)| {
                    format!(
                        "{{\"name\":{},\"type\":{},\"topic\":{}}}",
                        json_str(&n.to_string()),
                        json_str(&type_name(t)),
                        topic
                    )
                })
                .collect();
            format!(
                "{{\"name\":{},\"index\":{},\"fields\":[{}]}}",
                json_str(&e.ident.to_string()),
                i,
                fields.join(",")
            )
        })
        .collect();
    let types: Vec<&str> = types.iter().map(|t| t.json.as_str()).collect();
    format!(
        "{{\"abi\":\"watt_v1\",\"name\":{},\"constructors\":[{}],\"messages\":[{}],\"events\":[{}],\"types\":[{}],\"storage\":{}}}",
        json_str(name),
        ctors.join(","),
        msgs.join(","),
        evs.join(","),
        types.join(","),
        storage_json(storage, storage_fields)
    )
}
