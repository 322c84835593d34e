//! A CSV call record file read into rows of text, each with its line, or refused at
//! the first line that is broken: a quote that is never closed (the field runs into the
//! next line), a row with another number of columns than the first, bytes that are not
//! text in the file's charset.

use okno_sdk::prelude::*;

/// The charset the PBX writes. Asterisk and FreeSWITCH write what the caller ID carried;
/// UTF-8 is the default, and anything else in a UTF-8 file is refused with its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Windows1251,
    Koi8R,
}

impl Charset {
    pub fn parse(name: &str) -> Option<Charset> {
        match name.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(Charset::Utf8),
            "windows-1251" | "cp1251" => Some(Charset::Windows1251),
            "koi8-r" | "koi8r" => Some(Charset::Koi8R),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// 1-based line of the file where the row starts.
    pub line: u64,
    pub fields: Vec<String>,
}

/// Most rows one file may hold; a day of a large contact center is far below it.
pub const MAX_ROWS: usize = 200_000;

pub fn read(bytes: &[u8], charset: Charset) -> Result<Vec<Row>, PluginError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows: Vec<Row> = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Err(PluginError::invalid_input(format!(
                    "line {line}: the CSV cannot be read: {e}"
                )));
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if rows.len() == MAX_ROWS {
            return Err(PluginError::invalid_input(format!(
                "line {line}: more than {MAX_ROWS} rows in one file; split it"
            )));
        }
        let mut fields = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            let column = i + 1;
            if field.contains(&b'\n') || field.contains(&b'\r') {
                return Err(PluginError::invalid_input(format!(
                    "line {line}, column {column}: a quoted field runs past the end of the line (a quote is not closed)"
                )));
            }
            fields.push(text(field, charset).map_err(|at| {
                PluginError::invalid_input(format!(
                    "line {line}, column {column}: byte 0x{:02X} is not UTF-8; if the PBX writes another charset, set `charset` (windows-1251, koi8-r)",
                    field[at]
                ))
            })?);
        }
        if let Some(first) = rows.first() {
            if fields.len() != first.fields.len() {
                return Err(PluginError::invalid_input(format!(
                    "line {line}: {} columns, where line {} has {} (a broken quote or a cut line?)",
                    fields.len(),
                    first.line,
                    first.fields.len()
                )));
            }
        }
        rows.push(Row { line, fields });
    }
    Ok(rows)
}

/// The field as text; for UTF-8, `Err` holds the offset of the first bad byte.
fn text(field: &[u8], charset: Charset) -> Result<String, usize> {
    match charset {
        Charset::Utf8 => std::str::from_utf8(field)
            .map(String::from)
            .map_err(|e| e.valid_up_to()),
        Charset::Windows1251 => Ok(encoding_rs::WINDOWS_1251
            .decode_without_bom_handling(field)
            .0
            .into_owned()),
        Charset::Koi8R => Ok(encoding_rs::KOI8_R
            .decode_without_bom_handling(field)
            .0
            .into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_never_closed_is_refused_at_its_line() {
        let e = read(b"\"a\",\"b\"\n\"c\",\"d\n\"e\",\"f\"\n", Charset::Utf8).unwrap_err();
        assert!(e.message.starts_with("line 2, column 2:"), "{}", e.message);
    }

    #[test]
    fn bytes_not_utf8_are_refused_at_their_line_and_column() {
        let e = read(b"a,b\nc,d\xA5\n", Charset::Utf8).unwrap_err();
        assert!(
            e.message.starts_with("line 2, column 2: byte 0xA5"),
            "{}",
            e.message
        );
        let rows = read("a,b\nc,Иван\n".as_bytes(), Charset::Utf8).unwrap();
        assert_eq!(rows[1].fields[1], "Иван");
        let rows = read(b"a,\xC8\xE2\xE0\xED\n", Charset::Windows1251).unwrap();
        assert_eq!(rows[0].fields[1], "Иван");
    }

    #[test]
    fn rows_must_agree_on_their_columns() {
        let e = read(b"a,b,c\nd,e\n", Charset::Utf8).unwrap_err();
        assert!(e.message.starts_with("line 2: 2 columns"), "{}", e.message);
    }
}
