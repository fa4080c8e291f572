//! The import format at file level, shared by every stage that reads or writes it: [`csv`] is
//! the CSV dialect neo4j-admin reads, byte by byte (quoting, splitting, unescaping), and
//! [`header`] the header files (value types, column kinds, parsing and the written line).
//!
//! What a directory holds as a whole (its groups and files) is [`crate::manifest`]'s; how files
//! are staged and committed on disk is [`crate::outdir`]'s.

pub mod csv;
pub mod header;
