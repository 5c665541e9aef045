//! # s3dlio-backend-s3 (placeholder)
//!
//! Not implemented yet: this crate exports nothing. See `README.md` for what it will hold.
