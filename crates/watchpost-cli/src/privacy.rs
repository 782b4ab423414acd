//! Secrets and personal data in any signal. (Stub: being written.)
