//! INFO sections with Redis's field names.
