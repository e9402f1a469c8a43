//! Frames as an Arrow C stream (the Arrow C data interface), for front
//! ends in other languages: the Python package hands the stream to Python
//! in a capsule (`__arrow_c_stream__`), and polars, pyarrow or pandas take
//! the columns' buffers as they are, without copying them.

use polars::prelude::{CompatLevel, DataFrame};
use polars_arrow::array::{Array, StructArray};
use polars_arrow::datatypes::{ArrowDataType, Field};

pub use polars_arrow::ffi::ArrowArrayStream;

/// `frame` as a stream of struct arrays, one per chunk (each a record
/// batch). The stream owns the columns; the consumer releases it.
pub fn stream(mut frame: DataFrame) -> ArrowArrayStream {
    frame.align_chunks();
    let fields: Vec<Field> = frame.columns().iter().map(|c| c.field().to_arrow(CompatLevel::newest())).collect();
    let dtype = ArrowDataType::Struct(fields);
    let batches: Vec<Box<dyn Array>> = frame
        .iter_chunks(CompatLevel::newest(), false)
        .map(|batch| {
            let len = batch.len();
            Box::new(StructArray::new(dtype.clone(), len, batch.into_arrays(), None)) as Box<dyn Array>
        })
        .collect();
    let field = Field::new("".into(), dtype, false);
    polars_arrow::ffi::export_iterator(Box::new(batches.into_iter().map(Ok)), field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn a_frame_goes_through_the_stream_and_back() {
        let frame = df!("id" => ["a", "b"], "loss" => [0.5, 0.25]).unwrap();
        let stream = Box::new(stream(frame));
        // Read it back as a consumer would.
        #[allow(unsafe_code)]
        // SAFETY: the stream was just exported and is read once, here.
        let mut reader = unsafe { polars_arrow::ffi::ArrowArrayStreamReader::try_new(stream) }.unwrap();
        assert_eq!(reader.field().name.as_str(), "");
        #[allow(unsafe_code)]
        // SAFETY: as above.
        let first = unsafe { reader.next() }.unwrap().unwrap();
        assert_eq!(first.len(), 2);
        let batch = first.as_any().downcast_ref::<StructArray>().unwrap();
        assert_eq!(batch.fields().len(), 2);
        #[allow(unsafe_code)]
        // SAFETY: as above.
        let end = unsafe { reader.next() };
        assert!(end.is_none());
    }
}
