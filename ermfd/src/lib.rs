//! memfd mechanics for ERMFS (skeleton; issue 8 fills it in).
