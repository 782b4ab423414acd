//! The span rules. (Stub: being written.)
