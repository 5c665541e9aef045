//! Generated Parquet files: `Float32` columns (or fixed-size lists of them) holding the
//! data generator's bytes, written a row group at a time.

use std::sync::Arc;

use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use arrow_buffer::{Buffer, MutableBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use s3dlio_core::{Error, Operation, Result};
use s3dlio_datagen::{DataSpec, Generator};

/// One column: `width` 1 is a `Float32` column, more a `FixedSizeList<Float32>[width]`
/// (an embedding per row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub width: usize,
}

impl Column {
    pub fn new(name: impl Into<String>, width: usize) -> Self {
        Column {
            name: name.into(),
            width,
        }
    }
}

/// What to generate: the columns, `rows_per_row_group` rows in each of `row_groups`
/// row groups, and the data generator's spec (its seed decides the bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetSpec {
    pub columns: Vec<Column>,
    pub rows_per_row_group: usize,
    pub row_groups: usize,
    pub data: DataSpec,
}

impl ParquetSpec {
    /// `num_cols` `Float32` columns named `col0`, `col1`, ….
    pub fn float_columns(num_cols: usize, rows_per_row_group: usize, row_groups: usize) -> Self {
        let columns = (0..num_cols).map(|i| Column::new(format!("col{i}"), 1)).collect();
        ParquetSpec::new(columns, rows_per_row_group, row_groups)
    }

    pub fn new(columns: Vec<Column>, rows_per_row_group: usize, row_groups: usize) -> Self {
        ParquetSpec {
            columns,
            rows_per_row_group,
            row_groups,
            data: DataSpec::default(),
        }
    }

    pub fn with_data(mut self, data: DataSpec) -> Self {
        self.data = data;
        self
    }

    /// Bytes of column data in one row group (before page headers and the footer).
    pub fn row_group_bytes(&self) -> u64 {
        let floats: u64 = self.columns.iter().map(|c| c.width as u64).sum();
        floats * self.rows_per_row_group as u64 * 4
    }

    fn check(&self, uri: &str) -> Result<()> {
        let bad = |message: String| Err(Error::invalid_argument(Operation::Put, uri, message));
        if self.columns.is_empty() {
            return bad("a Parquet file needs at least one column".into());
        }
        if let Some(c) = self
            .columns
            .iter()
            .find(|c| c.width == 0 || c.width > i32::MAX as usize)
        {
            return bad(format!(
                "column {:?} has width {}: use 1 for a Float32 column or up to {} for a list",
                c.name,
                c.width,
                i32::MAX
            ));
        }
        if self.rows_per_row_group == 0 || self.row_groups == 0 {
            return bad("rows_per_rg and num_row_groups must be at least 1".into());
        }
        Ok(())
    }
}

/// A generated file as the pieces it is written in: each row group's bytes, then the
/// footer. Memory holds one row group, never the file, so a writer can stream it
/// (`s3dlio::transfer::write_parquet`).
pub struct Pieces {
    /// `None` once the footer is written.
    writer: Option<ArrowWriter<Vec<u8>>>,
    schema: Arc<Schema>,
    spec: ParquetSpec,
    data: Generator,
    next: usize,
    uri: String,
}

impl std::fmt::Debug for Pieces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pieces")
            .field("uri", &self.uri)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Pieces {
    /// Checks `spec` and starts the writer (`uri` only names the file in errors).
    pub fn new(uri: &str, spec: ParquetSpec) -> Result<Self> {
        spec.check(uri)?;
        let fields: Vec<Field> = spec
            .columns
            .iter()
            .map(|c| match c.width {
                1 => Field::new(&c.name, DataType::Float32, false),
                w => Field::new(&c.name, DataType::FixedSizeList(element(), w as i32), false),
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        // Random floats neither compress nor repeat: compression, statistics and
        // dictionaries would cost time and change nothing but the file's CPU profile.
        let props = WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_statistics_enabled(EnabledStatistics::None)
            .set_dictionary_enabled(false)
            .build();
        let writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))
            .map_err(|e| format_error(uri, "starting the Parquet writer", e))?;
        let total = spec.row_group_bytes() * spec.row_groups as u64;
        Ok(Pieces {
            writer: Some(writer),
            schema,
            data: Generator::new(total, spec.data),
            spec,
            next: 0,
            uri: uri.to_string(),
        })
    }

    fn row_group(&mut self, writer: &mut ArrowWriter<Vec<u8>>) -> Result<Bytes> {
        let rows = self.spec.rows_per_row_group;
        let mut offset = self.next as u64 * self.spec.row_group_bytes();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.spec.columns.len());
        for column in &self.spec.columns {
            let floats = rows * column.width;
            let mut buf = MutableBuffer::from_len_zeroed(floats * 4);
            self.data.fill_at(offset, buf.as_slice_mut());
            offset += floats as u64 * 4;
            let values = Float32Array::new(ScalarBuffer::new(Buffer::from(buf), 0, floats), None);
            arrays.push(match column.width {
                1 => Arc::new(values),
                w => Arc::new(FixedSizeListArray::new(
                    element(),
                    w as i32,
                    Arc::new(values),
                    None,
                )),
            });
        }
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| format_error(&self.uri, "building a row group", e))?;
        writer
            .write(&batch)
            .and_then(|()| writer.flush())
            .map_err(|e| format_error(&self.uri, "writing a row group", e))?;
        self.next += 1;
        Ok(take(writer))
    }
}

impl Iterator for Pieces {
    type Item = Result<Bytes>;

    fn next(&mut self) -> Option<Result<Bytes>> {
        let mut writer = self.writer.take()?;
        if self.next < self.spec.row_groups {
            let piece = self.row_group(&mut writer);
            // After a failure there is nothing more to write.
            self.writer = piece.is_ok().then_some(writer);
            return Some(piece);
        }
        Some(
            writer
                .finish()
                .map(|_| take(&mut writer))
                .map_err(|e| format_error(&self.uri, "writing the footer", e)),
        )
    }
}

/// The item field of an embedding column, named as Parquet's LIST convention names it;
/// the schema and every row group's arrays must use the same one.
fn element() -> FieldRef {
    Arc::new(Field::new("element", DataType::Float32, false))
}

/// What the writer produced since the last take. The writer counts its own offsets, so
/// emptying its buffer leaves the file's layout intact.
fn take(writer: &mut ArrowWriter<Vec<u8>>) -> Bytes {
    Bytes::from(std::mem::take(writer.inner_mut()))
}

fn format_error(uri: &str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid_argument(Operation::Put, uri, format!("{what}: {e}"))
}

/// A whole generated Parquet file in memory (`uri` only names it in errors).
pub fn generate(uri: &str, spec: &ParquetSpec) -> Result<Bytes> {
    let mut file =
        Vec::with_capacity((spec.row_group_bytes() as usize).saturating_mul(spec.row_groups) + 4096);
    for piece in Pieces::new(uri, spec.clone())? {
        file.extend_from_slice(&piece?);
    }
    Ok(Bytes::from(file))
}
