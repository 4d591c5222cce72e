//! Reading a form POST in any of its three encodings into one shape:
//! `application/x-www-form-urlencoded` (a plain HTML form),
//! `multipart/form-data` (a form with file inputs; files become
//! attachments) and `application/json` (a site's script: a flat object of
//! field names to strings, numbers or booleans, a file as
//! `{name, content_type, data_base64}`). Every read is bounded: the whole
//! body by the form's `max_body_bytes`, each file by `max_file_bytes`;
//! reading stops at the first byte over.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use base64::Engine;
use serde_json::Value;

/// The most parts a multipart body or keys a JSON object may have.
const MAX_PARTS: usize = 256;

/// A file as uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedFile {
    pub field: String,
    pub name: Option<String>,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// What was posted, before it is checked against the form's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Submitted {
    /// Name and value pairs in the order posted (duplicates kept).
    pub values: Vec<(String, String)>,
    pub files: Vec<UploadedFile>,
}

impl Submitted {
    /// The first non-empty value posted for `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// How the body was encoded; it decides how the answer is given too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    UrlEncoded,
    Multipart,
    Json,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BodyError {
    #[error("send the form as application/x-www-form-urlencoded, multipart/form-data or application/json")]
    UnsupportedType,
    #[error("the body cannot be read: {0}")]
    Malformed(String),
    #[error("the submission is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the file in `{field}` is larger than {limit} bytes")]
    FileTooLarge { field: String, limit: usize },
}

/// The size limits of one form.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub body: usize,
    pub file: usize,
}

/// The encoding a `Content-Type` names.
pub fn encoding(content_type: Option<&str>) -> Option<Encoding> {
    let essence = content_type?
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => Some(Encoding::UrlEncoded),
        "multipart/form-data" => Some(Encoding::Multipart),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

/// Reads the request's body.
pub async fn read(request: Request, limits: Limits) -> Result<(Encoding, Submitted), BodyError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let encoding = encoding(content_type.as_deref()).ok_or(BodyError::UnsupportedType)?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.body as u64) {
        return Err(BodyError::TooLarge { limit: limits.body });
    }
    let submitted = match encoding {
        Encoding::Multipart => multipart(request, limits).await?,
        Encoding::UrlEncoded => urlencoded(&bytes(request.into_body(), limits.body).await?),
        Encoding::Json => json(&bytes(request.into_body(), limits.body).await?, limits)?,
    };
    Ok((encoding, submitted))
}

async fn bytes(body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(error) => {
            // http-body-util's `LengthLimitError` ("length limit exceeded"),
            // somewhere in the chain; not a dependency of ours to name.
            let mut too_large = false;
            let mut cause: Option<&dyn std::error::Error> = Some(&error);
            while let Some(current) = cause {
                too_large |= current.to_string().contains("length limit exceeded");
                cause = current.source();
            }
            if too_large {
                Err(BodyError::TooLarge { limit })
            } else {
                Err(BodyError::Malformed(error.to_string()))
            }
        }
    }
}

/// Pairs of a urlencoded body (sans-IO).
pub fn urlencoded(body: &[u8]) -> Submitted {
    Submitted {
        values: form_urlencoded::parse(body)
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .take(MAX_PARTS)
            .collect(),
        files: Vec::new(),
    }
}

/// A flat JSON object (sans-IO).
pub fn json(body: &[u8], limits: Limits) -> Result<Submitted, BodyError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| BodyError::Malformed(format!("invalid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(BodyError::Malformed(
            "expected a JSON object of field names to values".into(),
        ));
    };
    if object.len() > MAX_PARTS {
        return Err(BodyError::Malformed(format!(
            "more than {MAX_PARTS} fields"
        )));
    }
    let mut submitted = Submitted::default();
    for (name, value) in object {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => (if b { "on" } else { "" }).to_string(),
            Value::Object(file) => {
                submitted.files.push(json_file(&name, &file, limits)?);
                continue;
            }
            Value::Array(_) => {
                return Err(BodyError::Malformed(format!(
                    "`{name}`: expected a string, number, boolean or file object"
                )))
            }
        };
        submitted.values.push((name, text));
    }
    Ok(submitted)
}

fn json_file(
    field: &str,
    file: &serde_json::Map<String, Value>,
    limits: Limits,
) -> Result<UploadedFile, BodyError> {
    let text = |key: &str| file.get(key).and_then(Value::as_str);
    let data = text("data_base64").ok_or_else(|| {
        BodyError::Malformed(format!(
            "`{field}`: a file is {{\"name\", \"content_type\", \"data_base64\"}}"
        ))
    })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| BodyError::Malformed(format!("`{field}`: data_base64 is not base64")))?;
    if bytes.len() > limits.file {
        return Err(BodyError::FileTooLarge {
            field: field.to_string(),
            limit: limits.file,
        });
    }
    Ok(UploadedFile {
        field: field.to_string(),
        name: text("name").map(str::to_string),
        content_type: text("content_type")
            .unwrap_or("application/octet-stream")
            .to_string(),
        bytes,
    })
}

async fn multipart(request: Request, limits: Limits) -> Result<Submitted, BodyError> {
    let malformed = |e: axum::extract::multipart::MultipartError| {
        let text = e.body_text();
        if text.to_ascii_lowercase().contains("limit") {
            BodyError::TooLarge { limit: limits.body }
        } else {
            BodyError::Malformed(text)
        }
    };
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| BodyError::Malformed(e.body_text()))?;
    let mut submitted = Submitted::default();
    let mut total = 0usize;
    let mut parts = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(BodyError::Malformed(format!("more than {MAX_PARTS} parts")));
        }
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let cap = if file_name.is_some() {
            limits.file
        } else {
            limits.body
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            total += chunk.len();
            if total > limits.body {
                return Err(BodyError::TooLarge { limit: limits.body });
            }
            if bytes.len() + chunk.len() > cap {
                return Err(BodyError::FileTooLarge {
                    field: name,
                    limit: limits.file,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        match file_name {
            // A file input left empty posts an empty part with no name.
            Some(file_name) if file_name.is_empty() && bytes.is_empty() => {}
            Some(file_name) => submitted.files.push(UploadedFile {
                field: name,
                name: Some(file_name).filter(|n| !n.is_empty()),
                content_type,
                bytes,
            }),
            None => submitted
                .values
                .push((name, String::from_utf8_lossy(&bytes).into_owned())),
        }
    }
    Ok(submitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        body: 1000,
        file: 10,
    };

    #[test]
    fn content_types_name_encodings() {
        assert_eq!(
            encoding(Some("application/x-www-form-urlencoded; charset=UTF-8")),
            Some(Encoding::UrlEncoded)
        );
        assert_eq!(
            encoding(Some("multipart/form-data; boundary=x")),
            Some(Encoding::Multipart)
        );
        assert_eq!(encoding(Some("Application/JSON")), Some(Encoding::Json));
        assert_eq!(encoding(Some("text/plain")), None);
        assert_eq!(encoding(None), None);
    }

    #[test]
    fn urlencoded_pairs_keep_order_and_duplicates() {
        let submitted = urlencoded(b"name=Ann+Lee&topic=a&topic=b&empty=&msg=caf%C3%A9");
        assert_eq!(submitted.values.len(), 5);
        assert_eq!(submitted.value("name"), Some("Ann Lee"));
        assert_eq!(submitted.value("topic"), Some("a"));
        assert_eq!(submitted.value("empty"), None);
        assert_eq!(submitted.value("msg"), Some("café"));
    }

    #[test]
    fn json_objects_with_scalars_and_files() {
        let body = br#"{"name": "Ann", "age": 42, "agree": true, "no": false, "gone": null,
            "cv": {"name": "cv.txt", "content_type": "text/plain", "data_base64": "aGk="}}"#;
        let submitted = json(body, LIMITS).unwrap();
        assert_eq!(submitted.value("age"), Some("42"));
        assert_eq!(submitted.value("agree"), Some("on"));
        assert_eq!(submitted.value("no"), None);
        assert_eq!(submitted.files[0].bytes, b"hi");
        assert_eq!(submitted.files[0].name.as_deref(), Some("cv.txt"));
        let big = format!(
            r#"{{"cv": {{"data_base64": "{}"}}}}"#,
            base64::engine::general_purpose::STANDARD.encode([0u8; 11])
        );
        assert_eq!(
            json(big.as_bytes(), LIMITS),
            Err(BodyError::FileTooLarge {
                field: "cv".into(),
                limit: 10
            })
        );
        for bad in [
            &b"[1]"[..],
            b"{",
            b"\"x\"",
            br#"{"a": [1]}"#,
            br#"{"f": {"x": 1}}"#,
        ] {
            assert!(
                matches!(json(bad, LIMITS), Err(BodyError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
