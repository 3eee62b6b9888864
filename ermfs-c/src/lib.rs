//! The C ABI of ERMFS (skeleton; issue 9 fills it in).
