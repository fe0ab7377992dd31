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
//!   functions, callable natively in tests), and on wasm32 the exported `deploy` / `call`;
//! - the ABI metadata JSON: `__watt_metadata()`, and on wasm32 a custom section `watt_metadata`.
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

impl Callable {
    fn returns_result(&self) -> bool {
        self.output
            .as_ref()
            .and_then(last_ident)
            .is_some_and(|s| s.ident == "Result")
    }
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

    // Pass 1: the storage struct and events.
    let mut storage: Option<Ident> = None;
    let mut storage_fields: Vec<(Ident, Type, Option<u32>)> = Vec::new();
    let mut events: Vec<EventDef> = Vec::new();
    for item in items.iter_mut() {
        let Item::Struct(s) = item else { continue };
        if take_attr(&mut s.attrs, "storage")?.is_some() {
            if storage.is_some() {
                return Err(Error::new(s.span(), "a contract has exactly one #[storage] struct"));
            }
            storage_fields = storage_layout(s)?;
            storage = Some(s.ident.clone());
        } else if take_attr(&mut s.attrs, "event")?.is_some() {
            events.push(event_def(s)?);
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

    // Pass 2: constructors and messages.
    let mut constructors = Vec::new();
    let mut messages = Vec::new();
    for item in items.iter_mut() {
        let Item::Impl(imp) = item else { continue };
        let is_storage = imp.trait_.is_none() && last_ident(&imp.self_ty).is_some_and(|s| s.ident == storage);
        if !is_storage {
            continue;
        }
        for ii in imp.items.iter_mut() {
            let ImplItem::Fn(f) = ii else { continue };
            let ctor = take_attr(&mut f.attrs, "constructor")?;
            let msg = take_attr(&mut f.attrs, "message")?;
            match (ctor, msg) {
                (Some(_), Some(_)) => {
                    return Err(Error::new(
                        f.sig.span(),
                        "a function is a constructor or a message, not both",
                    ))
                }
                (Some(args), None) => {
                    constructors.push(parse_callable(f, payable_flag(&args, "constructor")?, true, &storage)?)
                }
                (None, Some(args)) => {
                    messages.push(parse_callable(f, payable_flag(&args, "message")?, false, &storage)?)
                }
                (None, None) => continue,
            }
            if !matches!(f.vis, syn::Visibility::Public(_)) {
                return Err(Error::new(f.sig.span(), "constructors and messages must be `pub`"));
            }
        }
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
    let json = metadata_json(&mod_name, &constructors, &messages, &events);
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

        /// The ABI metadata of this contract (ABI.md "Metadata").
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

/// Gives each `Mapping` field its prefix (as a const generic argument) and returns the fields:
/// (name, type, Some(prefix) for a Mapping).
fn storage_layout(s: &mut ItemStruct) -> syn::Result<Vec<(Ident, Type, Option<u32>)>> {
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
        let mut prefix = None;
        if let Type::Path(tp) = &mut f.ty {
            if let Some(seg) = tp.path.segments.last_mut() {
                if seg.ident == "Mapping" {
                    let PathArguments::AngleBracketed(args) = &mut seg.arguments else {
                        return Err(Error::new(seg.span(), "write `Mapping<K, V>`"));
                    };
                    if args.args.len() != 2 {
                        return Err(Error::new(
                            args.span(),
                            "write `Mapping<K, V>`; the macro adds the storage prefix itself",
                        ));
                    }
                    let h = blake2_256(format!("{struct_name}::{ident}").as_bytes());
                    let p = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
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
                    prefix = Some(p);
                }
            }
        }
        out.push((ident, f.ty.clone(), prefix));
    }
    Ok(out)
}

fn storage_impl(storage: &Ident, fields: &[(Ident, Type, Option<u32>)]) -> TokenStream2 {
    let encodes = fields
        .iter()
        .filter(|f| f.2.is_none())
        .map(|(name, _, _)| quote!(::watt_contract::scale::Encode::encode_to(&self.#name, &mut __out);));
    let decodes = fields.iter().map(|(name, ty, prefix)| {
        if prefix.is_some() {
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
            let revert = if c.returns_result() {
                quote!(__result.is_err())
            } else {
                quote!(false)
            };
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

fn metadata_json(name: &str, constructors: &[Callable], messages: &[Callable], events: &[EventDef]) -> String {
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
    format!(
        "{{\"abi\":\"watt_v1\",\"name\":{},\"constructors\":[{}],\"messages\":[{}],\"events\":[{}]}}",
        json_str(name),
        ctors.join(","),
        msgs.join(","),
        evs.join(",")
    )
}
