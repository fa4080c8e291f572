//! Header files: the value types of property columns, the column kinds neo4j-admin reads
//! (`id:ID(Space)`, `:START_ID(Space)`, `name:long[]`, ...), parsing a header line and reading
//! a header-only file, and the exact bytes a header file is written with.
//!
//! This module owns the header's syntax only; which columns a group has is decided by `plan`
//! (generated groups) and `export` (exported ones), and checking data records against a header
//! belongs to `baseline`. Writing the file into an output directory is [`crate::outdir`]'s.

use std::path::{Path, PathBuf};

use super::csv;

/// A header file that cannot be used. The messages name the file and line, and are the ones a
/// baseline's reader shows (the `load` stage wraps them with its own context).
#[derive(Debug, thiserror::Error)]
pub enum HeaderFileError {
    #[error("cannot read {path}: {error}; the manifest lists it, so restore it or regenerate the baseline")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}:1: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}:2: a header file holds only the header line; move data rows into a data file")]
    DataRow { path: PathBuf },
}

/// The type of a property column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    String,
    Long,
    Double,
    Boolean,
    DateTime,
    Date,
    LocalDateTime,
    /// A time with an offset (`12:50:35.556+01:00`).
    Time,
    /// A time without an offset (`12:50:35.556`).
    LocalTime,
    /// An ISO-8601 duration as Cypher's `toString` writes it (`P1Y2M3DT4H5M6.5S`).
    Duration,
    /// A point as the map literal neo4j-admin reads: `{crs:cartesian,x:1.0,y:2.0}`, with `z`
    /// for the 3D reference systems (`cartesian-3d`, `wgs-84-3d`), `x`/`y` being longitude and
    /// latitude for the WGS-84 ones.
    Point,
}

impl ValueType {
    fn parse(s: &str) -> Option<ValueType> {
        Some(match s.to_ascii_lowercase().as_str() {
            "" | "string" => ValueType::String,
            "long" | "int" | "short" | "byte" => ValueType::Long,
            "double" | "float" => ValueType::Double,
            "boolean" => ValueType::Boolean,
            "datetime" => ValueType::DateTime,
            "date" => ValueType::Date,
            "localdatetime" => ValueType::LocalDateTime,
            "time" => ValueType::Time,
            "localtime" => ValueType::LocalTime,
            "duration" => ValueType::Duration,
            "point" => ValueType::Point,
            _ => return None,
        })
    }

    /// The name neo4j-admin reads in a header.
    pub fn header_name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Long => "long",
            ValueType::Double => "double",
            ValueType::Boolean => "boolean",
            ValueType::DateTime => "datetime",
            ValueType::Date => "date",
            ValueType::LocalDateTime => "localdatetime",
            ValueType::Time => "time",
            ValueType::LocalTime => "localtime",
            ValueType::Duration => "duration",
            ValueType::Point => "point",
        }
    }

    /// Whether `v` (unescaped) is a valid value of this type.
    pub fn accepts(self, v: &str) -> bool {
        match self {
            ValueType::String => true,
            ValueType::Long => v.trim().parse::<i64>().is_ok(),
            ValueType::Double => v.trim().parse::<f64>().is_ok(),
            ValueType::Boolean => v == "true" || v == "false",
            ValueType::DateTime => {
                chrono::DateTime::parse_from_rfc3339(v).is_ok()
                    || v.len() >= 10 && v.as_bytes()[4] == b'-' && v.contains('T')
            }
            ValueType::Date => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
            ValueType::LocalDateTime => v.len() >= 10 && v.as_bytes()[4] == b'-',
            ValueType::Time | ValueType::LocalTime => v.len() >= 5 && v.as_bytes()[2] == b':',
            ValueType::Duration => {
                let v = v.strip_prefix('-').unwrap_or(v);
                v.len() > 1 && (v.starts_with('P') || v.starts_with('p'))
            }
            ValueType::Point => v.starts_with('{') && v.ends_with('}'),
        }
    }
}

/// What a header column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// The node id; `stored` when the column has a name (`id:ID(S)`).
    Id {
        space: String,
        stored: bool,
    },
    StartId {
        space: String,
    },
    EndId {
        space: String,
    },
    Property {
        ty: ValueType,
        array: bool,
    },
    Ignore,
}

/// One header column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
}

impl Column {
    /// The header field as neo4j-admin reads it.
    pub fn header_field(&self) -> String {
        match &self.kind {
            ColumnKind::Id { space, stored } => {
                format!("{}:ID({space})", if *stored { &self.name } else { "" })
            }
            ColumnKind::StartId { space } => format!(":START_ID({space})"),
            ColumnKind::EndId { space } => format!(":END_ID({space})"),
            ColumnKind::Property { ty, array } => format!(
                "{}:{}{}",
                self.name,
                ty.header_name(),
                if *array { "[]" } else { "" }
            ),
            ColumnKind::Ignore => format!("{}:IGNORE", self.name),
        }
    }
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub columns: Vec<Column>,
}

impl Header {
    /// Parses one header line (already split into fields).
    pub fn parse(fields: &[&str]) -> Result<Header, String> {
        let mut columns = Vec::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            let (name, ty) = match f.rfind(':') {
                Some(p) => (&f[..p], &f[p + 1..]),
                None => (*f, ""),
            };
            let kind = if let Some(space) = paren(ty, "ID") {
                ColumnKind::Id {
                    space: space.to_string(),
                    stored: !name.is_empty(),
                }
            } else if let Some(space) = paren(ty, "START_ID") {
                ColumnKind::StartId {
                    space: space.to_string(),
                }
            } else if let Some(space) = paren(ty, "END_ID") {
                ColumnKind::EndId {
                    space: space.to_string(),
                }
            } else if ty == "IGNORE" {
                ColumnKind::Ignore
            } else if matches!(ty, "LABEL" | "TYPE") {
                return Err(format!(
                    "column {} ({f:?}): :{ty} columns are not used in this format; labels and types come from the manifest's groups",
                    i + 1
                ));
            } else {
                let (base, array) = match ty.strip_suffix("[]") {
                    Some(b) => (b, true),
                    None => (ty, false),
                };
                let ty = ValueType::parse(base).ok_or_else(|| {
                    format!(
                        "column {} ({f:?}): unknown type {base:?}; use string, long, double, boolean, datetime, date, localdatetime, time, localtime, duration or point, optionally with []",
                        i + 1
                    )
                })?;
                if name.is_empty() {
                    return Err(format!("column {}: a property column needs a name", i + 1));
                }
                ColumnKind::Property { ty, array }
            };
            columns.push(Column {
                name: name.to_string(),
                kind,
            });
        }
        Ok(Header { columns })
    }

    /// The index of the named property column.
    pub fn property(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| {
            c.name == name
                && matches!(
                    c.kind,
                    ColumnKind::Property { .. } | ColumnKind::Id { stored: true, .. }
                )
        })
    }

    /// The indexes of the columns whose kind matches `pred`.
    pub fn find(&self, pred: impl Fn(&ColumnKind) -> bool) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| pred(&c.kind))
            .map(|(i, _)| i)
            .collect()
    }

    /// The header line, fields joined by the delimiter.
    pub fn line(&self) -> String {
        let fields: Vec<String> = self.columns.iter().map(Column::header_field).collect();
        let mut out = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(csv::DELIMITER);
            }
            csv::push_field(&mut out, f.as_bytes());
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// The bytes of a header file: the header line and a line break.
    pub fn file_text(&self) -> String {
        let mut s = self.line();
        s.push('\n');
        s
    }
}

fn paren<'a>(ty: &'a str, tag: &str) -> Option<&'a str> {
    let rest = ty.strip_prefix(tag)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix('(')?.strip_suffix(')')
}

/// Reads a header-only file.
pub fn read_header(path: &Path) -> Result<Header, HeaderFileError> {
    let text = std::fs::read(path).map_err(|error| HeaderFileError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_slice());
    let mut rec = ::csv::StringRecord::new();
    let got = rdr
        .read_record(&mut rec)
        .map_err(|e| HeaderFileError::Syntax {
            path: path.to_path_buf(),
            message: format!("not a valid CSV header: {e}"),
        })?;
    if !got || rec.iter().all(str::is_empty) {
        return Err(HeaderFileError::Syntax {
            path: path.to_path_buf(),
            message: "the header file is empty; it needs one line of column names".into(),
        });
    }
    let fields: Vec<&str> = rec.iter().collect();
    let header = Header::parse(&fields).map_err(|message| HeaderFileError::Syntax {
        path: path.to_path_buf(),
        message,
    })?;
    if rdr.read_record(&mut rec).unwrap_or(false) {
        return Err(HeaderFileError::DataRow {
            path: path.to_path_buf(),
        });
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let line = "id:ID(Resource),name:string,zones:string[],n:long,ok:boolean,at:datetime,x";
        let fields: Vec<&str> = line.split(',').collect();
        let h = Header::parse(&fields).unwrap();
        assert_eq!(
            h.line(),
            "id:ID(Resource),name:string,zones:string[],n:long,ok:boolean,at:datetime,x:string"
        );
        assert_eq!(h.property("name"), Some(1));
        assert_eq!(h.property("id"), Some(0));
    }

    #[test]
    fn header_rejects_unknown_types_and_labels() {
        let e = Header::parse(&["id:ID(A)", "p:point2"]).unwrap_err();
        assert!(e.contains("unknown type \"point2\""), "{e}");
        let e = Header::parse(&["id:ID(A)", ":LABEL"]).unwrap_err();
        assert!(e.contains("manifest"), "{e}");
    }

    #[test]
    fn value_types_accept_what_neo4j_reads() {
        assert!(ValueType::Long.accepts("-42"));
        assert!(!ValueType::Long.accepts("4.2"));
        assert!(ValueType::Boolean.accepts("false"));
        assert!(!ValueType::Boolean.accepts("True"));
        assert!(ValueType::DateTime.accepts("2025-11-10T14:03:27.512Z"));
        assert!(!ValueType::DateTime.accepts("yesterday"));
        assert!(ValueType::Double.accepts("1e3"));
        assert!(ValueType::Duration.accepts("P1Y2M3DT4H5M6.5S"));
        assert!(!ValueType::Duration.accepts("1 day"));
        assert!(ValueType::Point.accepts("{crs:cartesian,x:1.0,y:2.0}"));
        assert!(!ValueType::Point.accepts("1.0,2.0"));
    }

    #[test]
    fn duration_and_point_columns_round_trip() {
        let h = Header::parse(&[":ID(Thing)", "d:duration", "p:point", "ps:point[]"]).unwrap();
        assert_eq!(h.line(), ":ID(Thing),d:duration,p:point,ps:point[]");
    }
}
