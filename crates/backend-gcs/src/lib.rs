//! # s3dlio-backend-gcs (placeholder)
//!
//! Not implemented yet: this crate exports nothing. See `README.md` for what it will hold.
