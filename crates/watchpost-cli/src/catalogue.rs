//! A service's metric catalogue, as exported by the library (`GET /metrics/catalogue`). (Stub.)
