//! `#[measured]`: per-function metrics with autometrics' names and labels (use it as
//! `watchpost::measured`; the documentation is there).
//!
//! The attribute rewrites the function's body and nothing else: the signature, the attributes
//! and the visibility stay as written. The generated code calls the runtime in
//! `watchpost::metrics::function` (re-exported as `watchpost::__measured`), which owns the
//! instruments, the caller, the slow-call rate limit and the trace marking; what must stay in
//! the user's crate is only what needs its types or its module: the result classification and
//! the slow WARN (so that its target is the function's module, routed to its subsystem).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2, TokenTree};
use quote::{quote, ToTokens};
use syn::parse::Parser as _;
use syn::spanned::Spanned as _;
use syn::{
    Attribute, Block, ImplItem, Item, ItemFn, ItemImpl, LitStr, ReturnType, Signature, Type,
};

/// See `watchpost::measured`.
#[proc_macro_attribute]
pub fn measured(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let mut options = Options::default();
    parse_options(&mut options, args)?;
    match syn::parse2::<Item>(item)? {
        Item::Fn(f) => expand_item_fn(f, &options),
        Item::Impl(i) => expand_impl(i, &options),
        other => Err(syn::Error::new(
            other.span(),
            "#[measured] applies to a function, a method or an `impl` block",
        )),
    }
}

fn expand_item_fn(mut f: ItemFn, options: &Options) -> syn::Result<TokenStream2> {
    if options.skip {
        return Err(syn::Error::new(
            f.sig.ident.span(),
            "`skip` is for methods inside a measured `impl` block",
        ));
    }
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| f.sig.ident.to_string());
    f.block = Box::new(body(&f.sig, &f.block, options, &name)?);
    Ok(f.into_token_stream())
}

/// `#[measured] impl T { … }`: every method with a body, named `T::method` (as autometrics does);
/// a method's own `#[measured(…)]` adds to (and overrides) the block's options, and
/// `#[measured(skip)]` leaves it alone.
fn expand_impl(mut block: ItemImpl, options: &Options) -> syn::Result<TokenStream2> {
    if options.name.is_some() || options.skip {
        return Err(syn::Error::new(
            block.impl_token.span(),
            "`name` and `skip` are for one method, not a whole `impl` block",
        ));
    }
    let type_name = match block.self_ty.as_ref() {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        other => other.to_token_stream().to_string(),
    };
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        let mut own = options.clone();
        let mut kept = Vec::with_capacity(method.attrs.len());
        for attr in std::mem::take(&mut method.attrs) {
            if is_measured(&attr) {
                if let syn::Meta::List(list) = &attr.meta {
                    parse_options(&mut own, list.tokens.clone())?;
                }
            } else {
                kept.push(attr);
            }
        }
        method.attrs = kept;
        if own.skip {
            continue;
        }
        let name = own
            .name
            .clone()
            .unwrap_or_else(|| format!("{type_name}::{}", method.sig.ident));
        method.block = body(&method.sig, &method.block, &own, &name)?;
    }
    Ok(block.into_token_stream())
}

/// `#[measured]`, `#[measured(…)]` or `#[watchpost::measured(…)]`.
fn is_measured(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "measured")
}

/// The bucket boundaries of `function_calls_duration_seconds` (autometrics' defaults, in
/// nanoseconds) and their label text: a latency objective must be one of them. The library's
/// `catalogue::OBJECTIVE_LATENCY_THRESHOLDS` and `buckets::FUNCTION_SECONDS` have the same values
/// (its tests compare them).
const LATENCIES: &[(u64, &str)] = &[
    (5_000_000, "0.005"),
    (10_000_000, "0.01"),
    (25_000_000, "0.025"),
    (50_000_000, "0.05"),
    (75_000_000, "0.075"),
    (100_000_000, "0.1"),
    (250_000_000, "0.25"),
    (500_000_000, "0.5"),
    (750_000_000, "0.75"),
    (1_000_000_000, "1"),
    (2_500_000_000, "2.5"),
    (5_000_000_000, "5"),
    (7_500_000_000, "7.5"),
    (10_000_000_000, "10"),
];

/// The percentiles autometrics' rules and dashboards know.
const PERCENTILES: &[(f64, &str)] = &[(90.0, "90"), (95.0, "95"), (99.0, "99"), (99.9, "99.9")];

/// The default interval between two slow-call WARNs of one function.
const DEFAULT_WARN_EVERY_NS: u64 = 60_000_000_000;

#[derive(Debug, Clone, Default)]
struct Options {
    name: Option<String>,
    /// The span's level (lowercase), if a span is made per call.
    span: Option<String>,
    slow_ns: Option<u64>,
    slow_warn_every_ns: Option<u64>,
    concurrency: bool,
    objective: Option<String>,
    success: Option<&'static str>,
    latency: Option<&'static str>,
    latency_percentile: Option<&'static str>,
    skip: bool,
}

fn parse_options(options: &mut Options, args: TokenStream2) -> syn::Result<()> {
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match key.as_str() {
            "name" => {
                let s: LitStr = meta.value()?.parse()?;
                if s.value().is_empty() {
                    return Err(syn::Error::new(s.span(), "the name is empty"));
                }
                options.name = Some(s.value());
            }
            "span" => {
                if meta.input.peek(syn::Token![=]) {
                    let s: LitStr = meta.value()?.parse()?;
                    let level = s.value().to_ascii_lowercase();
                    if !["trace", "debug", "info", "warn", "error"].contains(&level.as_str()) {
                        return Err(syn::Error::new(
                            s.span(),
                            "span level: one of \"trace\", \"debug\", \"info\", \"warn\", \"error\"",
                        ));
                    }
                    options.span = Some(level);
                } else {
                    options.span = Some("info".into());
                }
            }
            "slow" => {
                let s: LitStr = meta.value()?.parse()?;
                options.slow_ns = Some(duration_ns(&s)?);
            }
            "slow_warn_every" => {
                let s: LitStr = meta.value()?.parse()?;
                let ns = duration_ns(&s)?;
                if ns == 0 {
                    return Err(syn::Error::new(s.span(), "the interval must be above zero"));
                }
                options.slow_warn_every_ns = Some(ns);
            }
            "concurrency" => options.concurrency = true,
            "skip" => options.skip = true,
            "objective" => {
                let s: LitStr = meta.value()?.parse()?;
                if s.value().is_empty() {
                    return Err(syn::Error::new(s.span(), "the objective's name is empty"));
                }
                options.objective = Some(s.value());
            }
            "success" => options.success = Some(percentile(meta.value()?)?),
            "latency_percentile" => options.latency_percentile = Some(percentile(meta.value()?)?),
            "latency" => {
                let s: LitStr = meta.value()?.parse()?;
                let ns = duration_ns(&s)?;
                let Some((_, label)) = LATENCIES.iter().find(|(b, _)| *b == ns) else {
                    return Err(syn::Error::new(
                        s.span(),
                        "a latency objective must be a bucket boundary of \
                         function_calls_duration_seconds: 5ms, 10ms, 25ms, 50ms, 75ms, 100ms, \
                         250ms, 500ms, 750ms, 1s, 2.5s, 5s, 7.5s or 10s",
                    ));
                };
                options.latency = Some(label);
            }
            _ => {
                return Err(meta.error(
                    "unknown option; expected one of: span, span = \"debug\", slow = \"100ms\", \
                     slow_warn_every = \"1m\", concurrency, objective = \"name\", success = 99.9, \
                     latency = \"250ms\", latency_percentile = 99, name = \"Type::method\", skip",
                ))
            }
        }
        Ok(())
    });
    parser.parse2(args)?;
    if options.latency_percentile.is_some() && options.latency.is_none() {
        return Err(syn::Error::new(
            Span::call_site(),
            "`latency_percentile` needs `latency = \"…\"`",
        ));
    }
    Ok(())
}

/// A percentile given as `99.9`, `99` or `"99.9"`: one of autometrics' four.
fn percentile(input: syn::parse::ParseStream<'_>) -> syn::Result<&'static str> {
    let lit: syn::Lit = input.parse()?;
    let value = match &lit {
        syn::Lit::Float(f) => f.base10_parse::<f64>()?,
        syn::Lit::Int(i) => i.base10_parse::<f64>()?,
        syn::Lit::Str(s) => s
            .value()
            .parse::<f64>()
            .map_err(|_| syn::Error::new(s.span(), "not a number"))?,
        other => return Err(syn::Error::new(other.span(), "expected a percentage")),
    };
    PERCENTILES
        .iter()
        .find(|(p, _)| (p - value).abs() < 1e-9)
        .map(|(_, s)| *s)
        .ok_or_else(|| {
            syn::Error::new(
                lit.span(),
                "a percentile of autometrics' rules and dashboards: 90, 95, 99 or 99.9",
            )
        })
}

/// `"100ms"`, `"1.5s"`, `"250us"`, `"2m"`: a number and a unit (`ns`, `us`/`µs`, `ms`, `s`,
/// `m`, `h`), in nanoseconds.
fn duration_ns(lit: &LitStr) -> syn::Result<u64> {
    parse_duration(&lit.value()).map_err(|why| syn::Error::new(lit.span(), why))
}

fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_ns: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        "" => {
            return Err(format!(
                "{text:?}: a duration needs a unit (ns, us, ms, s, m, h)"
            ))
        }
        u => {
            return Err(format!(
                "{text:?}: unknown unit {u:?} (ns, us, ms, s, m, h)"
            ))
        }
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: not a duration like \"100ms\""))?;
    let ns = (n * unit_ns).round();
    if !(ns.is_finite() && ns >= 0.0 && ns < u64::MAX as f64) {
        return Err(format!("{text:?}: out of range"));
    }
    Ok(ns as u64)
}

/// Whether a type mentions `impl Trait` (which cannot name a `let` binding's type).
fn has_impl_trait(tokens: TokenStream2) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == "impl",
        TokenTree::Group(g) => has_impl_trait(g.stream()),
        _ => false,
    })
}

/// The new body of a measured function.
fn body(sig: &Signature, block: &Block, options: &Options, name: &str) -> syn::Result<Block> {
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(
            c.span(),
            "#[measured] cannot measure a `const fn`",
        ));
    }
    let rt = quote!(::watchpost::__measured);
    let objective = if options.success.is_some() || options.latency.is_some() {
        let n = options
            .objective
            .clone()
            .unwrap_or_else(|| name.to_string());
        quote!(::core::option::Option::Some(#n))
    } else if options.objective.is_some() {
        return Err(syn::Error::new(
            Span::call_site(),
            "an objective needs `success = …` and/or `latency = \"…\"`",
        ));
    } else {
        quote!(::core::option::Option::None)
    };
    let success = option_str(options.success);
    let latency = match options.latency {
        Some(threshold) => {
            let p = options.latency_percentile.unwrap_or("99");
            quote!(::core::option::Option::Some((#threshold, #p)))
        }
        None => quote!(::core::option::Option::None),
    };
    let slow = match options.slow_ns {
        Some(ns) => quote!(::core::option::Option::Some(::core::time::Duration::from_nanos(#ns))),
        None => quote!(::core::option::Option::None),
    };
    let warn_every = options.slow_warn_every_ns.unwrap_or(DEFAULT_WARN_EVERY_NS);
    let concurrency = options.concurrency;

    let ret_ty = match &sig.output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, t) if has_impl_trait(t.to_token_stream()) => None,
        ReturnType::Type(_, t) => Some(t.to_token_stream()),
    };
    let (span_make, span_ref) = match &options.span {
        Some(level) => {
            let level = syn::Ident::new(&level.to_ascii_uppercase(), Span::call_site());
            (
                quote! {
                    let __wp_span = #rt::tracing::span!(
                        #rt::tracing::Level::#level,
                        #name,
                        code.function.name = ::core::concat!(::core::module_path!(), "::", #name),
                    );
                },
                quote!(::core::option::Option::Some(&__wp_span)),
            )
        }
        None => (quote!(), quote!(::core::option::Option::None)),
    };
    let warn = quote! {
        #rt::tracing::warn!(
            function = #name,
            module = ::core::module_path!(),
            duration_ms = __wp_slow.duration_ms(),
            threshold_ms = __wp_slow.threshold_ms(),
            suppressed = __wp_slow.suppressed(),
            "slow call: over its threshold"
        )
    };
    let warn = if options.span.is_some() && sig.asyncness.is_some() {
        // After the `.await` the function's span is no longer entered: log inside it.
        quote!(__wp_span.in_scope(|| #warn))
    } else {
        warn
    };
    let statics = quote! {
        static __WATCHPOST_MEASURED: #rt::Function = #rt::Function::new(#rt::Descriptor {
            function: #name,
            module: ::core::module_path!(),
            objective: #objective,
            success_percentile: #success,
            latency: #latency,
            slow: #slow,
            slow_warn_every: ::core::time::Duration::from_nanos(#warn_every),
            concurrency: #concurrency,
        });
        #rt::inventory::submit! { #rt::Registered(&__WATCHPOST_MEASURED) }
    };
    let classify = quote! {
        let __wp_error = {
            #[allow(unused_imports)]
            use #rt::{ProbeDefault as _, ProbeOutcome as _};
            (&#rt::Probe(&__wp_ret)).__watchpost_is_error()
        };
        if let ::core::option::Option::Some(__wp_slow) = __wp_call.finish(__wp_error, #span_ref) {
            #warn;
        }
        __wp_ret
    };
    let tokens = if sig.asyncness.is_some() {
        // Pins the async block's output type before its body is checked (`?` needs it).
        let pin_type = ret_ty.as_ref().map(|t| {
            quote! {
                #[allow(
                    unknown_lints,
                    unreachable_code,
                    clippy::diverging_sub_expression,
                    clippy::let_unit_value,
                    clippy::unreachable
                )]
                if false {
                    let __wp_unreachable: #t = ::core::unreachable!();
                    return __wp_unreachable;
                }
            }
        });
        let instrument = options.span.as_ref().map(|_| {
            quote! {
                let __wp_future = #rt::tracing::Instrument::instrument(
                    __wp_future,
                    ::core::clone::Clone::clone(&__wp_span),
                );
            }
        });
        quote! {{
            #statics
            #span_make
            let __wp_future = async move { #pin_type #block };
            #instrument
            let (__wp_ret, __wp_call) = #rt::Measured::new(&__WATCHPOST_MEASURED, __wp_future).await;
            #classify
        }}
    } else {
        let annotation = ret_ty.map(|t| quote!(: #t));
        let enter = options
            .span
            .as_ref()
            .map(|_| quote!(let __wp_entered = __wp_span.enter();));
        quote! {{
            #statics
            #span_make
            #enter
            let __wp_call = #rt::Call::start(&__WATCHPOST_MEASURED);
            let __wp_ret #annotation = #rt::call_once(move || #block);
            #classify
        }}
    };
    syn::parse2(tokens)
}

fn option_str(s: Option<&str>) -> TokenStream2 {
    match s {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_number_and_a_unit() {
        assert_eq!(parse_duration("100ms"), Ok(100_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("250us"), Ok(250_000));
        assert_eq!(parse_duration("2m"), Ok(120_000_000_000));
        assert_eq!(parse_duration(" 7 ns "), Ok(7));
        assert!(parse_duration("100").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("1 fortnight")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn percentiles_are_autometrics_four() {
        let ok = |t: TokenStream2| {
            let mut o = Options::default();
            parse_options(&mut o, t).map(|_| o.success)
        };
        assert_eq!(ok(quote!(success = 99.9)).unwrap(), Some("99.9"));
        assert_eq!(ok(quote!(success = 99)).unwrap(), Some("99"));
        assert_eq!(ok(quote!(success = "95")).unwrap(), Some("95"));
        assert!(ok(quote!(success = 98)).is_err());
    }

    #[test]
    fn latency_objectives_are_bucket_boundaries() {
        let parse = |t: TokenStream2| {
            let mut o = Options::default();
            parse_options(&mut o, t).map(|_| o)
        };
        assert_eq!(
            parse(quote!(latency = "250ms")).unwrap().latency,
            Some("0.25")
        );
        assert_eq!(parse(quote!(latency = "1s")).unwrap().latency, Some("1"));
        let e = parse(quote!(latency = "300ms")).unwrap_err().to_string();
        assert!(e.contains("bucket boundary"), "{e}");
        let e = parse(quote!(latency_percentile = 99))
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs `latency"), "{e}");
        let e = parse(quote!(sloow = "1s")).unwrap_err().to_string();
        assert!(e.contains("unknown option"), "{e}");
    }

    #[test]
    fn the_latency_table_is_in_increasing_order_with_exact_labels() {
        assert!(LATENCIES.windows(2).all(|w| w[0].0 < w[1].0));
        for (ns, label) in LATENCIES {
            assert_eq!(label.parse::<f64>().unwrap(), *ns as f64 / 1e9);
        }
    }

    #[test]
    fn a_const_fn_is_refused_with_a_message() {
        let e = expand(
            quote!(),
            quote!(
                const fn f() -> u8 {
                    1
                }
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("const fn"), "{e}");
    }

    #[test]
    fn an_impl_block_names_its_methods_type_colon_colon_method() {
        let out = expand(
            quote!(slow = "1s"),
            quote!(
                impl<T> Store<T> {
                    fn get(&self) -> u8 {
                        1
                    }
                    #[measured(skip)]
                    fn raw(&self) -> u8 {
                        2
                    }
                    #[measured(name = "Store::put_all")]
                    fn put(&self) {}
                }
            ),
        )
        .unwrap()
        .to_string();
        assert!(out.contains("\"Store::get\""), "{out}");
        assert!(out.contains("\"Store::put_all\""), "{out}");
        assert!(!out.contains("\"Store::raw\""), "{out}");
        assert!(!out.contains("# [measured"), "{out}");
    }
}
