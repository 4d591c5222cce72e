//! The schema version kept in the database, checked at open so that a build
//! never reads a layout it does not understand.

use std::path::Path;

use super::StoreError;

/// Bump when a key layout or record shape changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;
const KEY: &[u8] = b"schema_version";

pub fn check_or_init(meta: &sled::Tree, path: &Path) -> Result<(), StoreError> {
    match meta.get(KEY)? {
        None => {
            meta.insert(KEY, &SCHEMA_VERSION.to_be_bytes())?;
            Ok(())
        }
        Some(bytes) => {
            let found = <[u8; 4]>::try_from(bytes.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| StoreError::Corrupt("schema version".into()))?;
            if found == SCHEMA_VERSION {
                Ok(())
            } else {
                Err(StoreError::SchemaMismatch {
                    path: path.display().to_string(),
                    found,
                    expected: SCHEMA_VERSION,
                })
            }
        }
    }
}
