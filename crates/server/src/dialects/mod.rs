//! The dialects: HTTP surfaces that reproduce existing auth APIs field for field. Each parses,
//! calls the core, and shapes the answer in its vendor's format; none depends on another.

pub mod json;
pub mod korastratum;
pub mod kumusoft;
