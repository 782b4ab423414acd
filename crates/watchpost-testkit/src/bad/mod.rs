//! A deliberately bad service's signals: each rule of `watchpost lint`/`check` broken exactly once.

pub mod exposition;
pub mod logs;
pub mod spans;
