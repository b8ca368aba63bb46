//! Reading Iceberg fields out of decoded Avro records: by name in the writer schema, else by
//! field id (v1 files name some fields differently), with the widening Avro schema resolution
//! allows (int → long) and longs that fit read as ints.

use alloc::string::String;
use alloc::vec::Vec;

use super::avro::{Datum, Field, Record};
use super::ManifestError;

/// A decoded record and its schema.
pub(super) struct Rec<'d, 's> {
    record: &'s Record,
    values: &'d [Datum<'s>],
}

impl<'d, 's> Rec<'d, 's> {
    /// The record in `d`, or `Field(what)`.
    pub(super) fn of(d: &'d Datum<'s>, what: &'static str) -> Result<Self, ManifestError> {
        match d {
            Datum::Record(record, values) => Ok(Rec { record, values }),
            _ => Err(ManifestError::Field(what)),
        }
    }

    /// The fields and their values, in schema order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&'s Field, &'d Datum<'s>)> {
        self.record.fields.iter().zip(self.values.iter())
    }

    fn get(&self, name: &str, id: i32) -> Option<&'d Datum<'s>> {
        let fields = &self.record.fields;
        let i = fields.iter().position(|f| f.name == name).or_else(|| fields.iter().position(|f| f.id == Some(id)))?;
        match self.values.get(i) {
            None | Some(Datum::Null) => None,
            some => some,
        }
    }

    /// Whether the field is present and not null.
    pub(super) fn has(&self, name: &str, id: i32) -> bool {
        self.get(name, id).is_some()
    }

    pub(super) fn opt_long(&self, name: &'static str, id: i32) -> Result<Option<i64>, ManifestError> {
        self.get(name, id).map(|d| as_long(d).ok_or(ManifestError::Field(name))).transpose()
    }

    pub(super) fn long(&self, name: &'static str, id: i32) -> Result<i64, ManifestError> {
        self.opt_long(name, id)?.ok_or(ManifestError::Field(name))
    }

    pub(super) fn opt_int(&self, name: &'static str, id: i32) -> Result<Option<i32>, ManifestError> {
        self.get(name, id).map(|d| as_int(d).ok_or(ManifestError::Field(name))).transpose()
    }

    pub(super) fn int(&self, name: &'static str, id: i32) -> Result<i32, ManifestError> {
        self.opt_int(name, id)?.ok_or(ManifestError::Field(name))
    }

    pub(super) fn opt_bool(&self, name: &'static str, id: i32) -> Result<Option<bool>, ManifestError> {
        match self.get(name, id) {
            None => Ok(None),
            Some(Datum::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(ManifestError::Field(name)),
        }
    }

    pub(super) fn boolean(&self, name: &'static str, id: i32) -> Result<bool, ManifestError> {
        self.opt_bool(name, id)?.ok_or(ManifestError::Field(name))
    }

    pub(super) fn opt_string(&self, name: &'static str, id: i32) -> Result<Option<String>, ManifestError> {
        match self.get(name, id) {
            None => Ok(None),
            Some(Datum::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ManifestError::Field(name)),
        }
    }

    pub(super) fn string(&self, name: &'static str, id: i32) -> Result<String, ManifestError> {
        self.opt_string(name, id)?.ok_or(ManifestError::Field(name))
    }

    pub(super) fn opt_bytes(&self, name: &'static str, id: i32) -> Result<Option<Vec<u8>>, ManifestError> {
        match self.get(name, id) {
            None => Ok(None),
            Some(Datum::Bytes(b) | Datum::Fixed(b)) => Ok(Some(b.clone())),
            Some(_) => Err(ManifestError::Field(name)),
        }
    }

    pub(super) fn record(&self, name: &'static str, id: i32) -> Result<Rec<'d, 's>, ManifestError> {
        Rec::of(self.get(name, id).ok_or(ManifestError::Field(name))?, name)
    }

    /// The items of a list field; empty when absent or null.
    pub(super) fn list(&self, name: &'static str, id: i32) -> Result<&'d [Datum<'s>], ManifestError> {
        match self.get(name, id) {
            None => Ok(&[]),
            Some(Datum::Array(items)) => Ok(items),
            Some(_) => Err(ManifestError::Field(name)),
        }
    }

    pub(super) fn long_list(&self, name: &'static str, id: i32) -> Result<Vec<i64>, ManifestError> {
        self.list(name, id)?.iter().map(|d| as_long(d).ok_or(ManifestError::Field(name))).collect()
    }

    pub(super) fn int_list(&self, name: &'static str, id: i32) -> Result<Vec<i32>, ManifestError> {
        self.list(name, id)?.iter().map(|d| as_int(d).ok_or(ManifestError::Field(name))).collect()
    }

    /// A map keyed by field id: an array of 2-field key/value records (the spec's form for
    /// non-string keys), or, leniently, an Avro map whose string keys are ints. Empty when absent.
    pub(super) fn id_map<T>(
        &self,
        name: &'static str,
        id: i32,
        value: impl Fn(&Datum<'s>) -> Option<T>,
    ) -> Result<Vec<(i32, T)>, ManifestError> {
        let bad = ManifestError::Field(name);
        match self.get(name, id) {
            None => Ok(Vec::new()),
            Some(Datum::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Datum::Record(_, kv) => match (kv.first().and_then(as_int), kv.get(1).and_then(&value)) {
                        (Some(k), Some(v)) => Ok((k, v)),
                        _ => Err(bad),
                    },
                    _ => Err(bad),
                })
                .collect(),
            Some(Datum::Map(entries)) => entries
                .iter()
                .map(|(k, v)| match (k.parse::<i32>().ok(), value(v)) {
                    (Some(k), Some(v)) => Ok((k, v)),
                    _ => Err(bad),
                })
                .collect(),
            Some(_) => Err(bad),
        }
    }
}

pub(super) fn as_long(d: &Datum<'_>) -> Option<i64> {
    match d {
        Datum::Int(v) => Some(i64::from(*v)),
        Datum::Long(v) => Some(*v),
        _ => None,
    }
}

pub(super) fn as_int(d: &Datum<'_>) -> Option<i32> {
    match d {
        Datum::Int(v) => Some(*v),
        Datum::Long(v) => i32::try_from(*v).ok(),
        _ => None,
    }
}

pub(super) fn as_bytes(d: &Datum<'_>) -> Option<Vec<u8>> {
    match d {
        Datum::Bytes(b) | Datum::Fixed(b) => Some(b.clone()),
        _ => None,
    }
}
