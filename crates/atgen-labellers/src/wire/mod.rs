//! Provider wire formats, field for field, apart from the domain types.
//!
//! Only the fields atgen sends or reads are modelled; unknown response
//! fields are ignored so that additions on the provider side do not break us.

pub mod anthropic;
pub mod anthropic_batch;
pub mod openai;
pub mod openai_batch;
