//! `#[measured]` leaves signatures alone: generic functions, `impl Trait` arguments and return
//! types, borrowed returns from `&self` and `&mut self`, `self: Box<Self>`, `async fn` returning
//! a borrow or `impl Trait`, trait implementations (sync and async), `unsafe fn`, and together
//! with `#[tracing::instrument]`. Each is measured under its own name.

use std::fmt::Display;
use watchpost::metrics::Format;

#[watchpost::measured]
fn generic<T>(t: &T, _more: impl Into<u64>) -> T
where
    T: Clone + Default + std::fmt::Debug,
{
    if format!("{t:?}").is_empty() {
        return T::default();
    }
    t.clone()
}

#[watchpost::measured]
fn evens(n: u32) -> impl Iterator<Item = u32> {
    (0..n).filter(|i| i % 2 == 0)
}

#[watchpost::measured]
async fn shown(n: u32) -> impl Display {
    n * 3
}

/// # Safety
/// None needed: it only shows that `unsafe fn` is accepted.
#[watchpost::measured]
unsafe fn raw(p: *const u8) -> u8 {
    *p
}

#[watchpost::measured]
#[tracing::instrument(skip_all)]
fn instrumented(n: u32) -> Result<u32, String> {
    Ok(n)
}

struct Holder {
    text: String,
    list: Vec<u8>,
}

#[watchpost::measured]
impl Holder {
    fn text(&self) -> &str {
        &self.text
    }
    fn list(&mut self) -> &mut Vec<u8> {
        &mut self.list
    }
    fn boxed(self: Box<Self>) -> usize {
        self.text.len()
    }
    async fn first_word(&self) -> &str {
        tokio::task::yield_now().await;
        self.text.split(' ').next().unwrap_or("")
    }
}

impl Display for Holder {
    #[watchpost::measured(name = "Holder::fmt")]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.text)
    }
}

trait Fetch {
    async fn fetch(&self, key: u32) -> Option<u32>;
}

#[watchpost::measured]
impl Fetch for Holder {
    async fn fetch(&self, key: u32) -> Option<u32> {
        (key < 10).then_some(key)
    }
}

#[tokio::test]
async fn measured_accepts_every_function_shape() {
    let config = watchpost::Config::builder("shapes").build().unwrap();
    let (telemetry, _d) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    assert_eq!(generic(&5u8, 1u8), 5);
    assert_eq!(evens(5).collect::<Vec<_>>(), [0, 2, 4]);
    assert_eq!(shown(2).await.to_string(), "6");
    let byte = 7u8;
    // SAFETY: a pointer to a live byte.
    assert_eq!(unsafe { raw(&byte) }, 7);
    assert_eq!(instrumented(3), Ok(3));
    let mut h = Holder {
        text: "hello world".into(),
        list: vec![],
    };
    assert_eq!(h.text(), "hello world");
    h.list().push(1);
    assert_eq!(h.first_word().await, "hello");
    assert_eq!(h.to_string(), "hello world");
    assert_eq!(h.fetch(3).await, Some(3));
    assert_eq!(h.fetch(30).await, None);
    assert_eq!(Box::new(h).boxed(), 11);

    let text = telemetry.metrics().encode(Format::Text);
    for (function, result) in [
        ("generic", "ok"),
        ("evens", "ok"),
        ("shown", "ok"),
        ("raw", "ok"),
        ("instrumented", "ok"),
        ("Holder::text", "ok"),
        ("Holder::list", "ok"),
        ("Holder::boxed", "ok"),
        ("Holder::first_word", "ok"),
        ("Holder::fmt", "ok"),
        ("Holder::fetch", "ok"),
        ("Holder::fetch", "error"),
    ] {
        let prefix = format!("function_calls_total{{function=\"{function}\",");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&prefix) && l.contains(&format!("result=\"{result}\""))),
            "{function} {result} missing:\n{text}"
        );
    }
}
