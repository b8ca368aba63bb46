//! Errors of the Parquet reader.

use core::fmt;

/// Why a Parquet footer or column chunk was rejected. Every variant is final for those bytes:
/// retrying with the same input gives the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetError {
    /// The file is shorter than the smallest Parquet file (`PAR1`, footer length, `PAR1`).
    FileTooSmall,
    /// The tail passed to the footer parser is longer than the file it is said to end.
    TailLongerThanFile,
    /// The file does not end with the magic `PAR1` (encrypted footers, `PARE`, included).
    BadMagic,
    /// The footer length is negative or does not fit in the file.
    FooterLength,
    /// The footer is longer than the configured limit.
    FooterTooLarge,
    /// The footer's thrift `FileMetaData` is corrupt, or does not fill the footer exactly.
    CorruptFooter,
    /// The schema tree is malformed (child counts, missing types, no columns), or the column
    /// chunks of a row group do not match its leaves.
    InvalidSchema,
    /// Column chunk metadata is missing or impossible (negative sizes, ranges outside the data).
    InvalidColumnMeta,
    /// A page header's thrift is corrupt, or a header the page type requires is missing.
    CorruptPageHeader,
    /// A page (compressed or not) is larger than the configured limit.
    PageTooLarge,
    /// A page's sizes are negative, inconsistent, or its data does not decompress to the size its
    /// header states.
    PageSizeMismatch,
    /// A page header claims more bytes than the column chunk holds.
    TruncatedPage,
    /// The column chunk ends before all the values its metadata counts.
    TruncatedChunk,
    /// Compressed page data is corrupt.
    Decompress,
    /// Repetition or definition levels are corrupt (short, or above the column's maximum).
    CorruptLevels,
    /// Encoded values are corrupt or shorter than the levels require.
    CorruptValues,
    /// A dictionary-encoded page comes without a dictionary page before it.
    MissingDictionary,
    /// A second dictionary page, or one after data pages.
    UnexpectedDictionary,
    /// A dictionary index points past the end of the dictionary.
    DictionaryIndex,
    /// The pages hold more values than the column chunk metadata counts.
    ValueCountMismatch,
    /// More values than the configured limit.
    TooManyValues,
    /// The page index (offset or column index) is corrupt or does not fit its column chunk.
    CorruptPageIndex,
    /// A valid Parquet feature this reader does not implement; the text names it.
    Unsupported(&'static str),
}

impl ParquetError {
    /// Short human explanation, stable across occurrences (the detail of
    /// [`Unsupported`](Self::Unsupported) is in `Display`).
    pub fn description(&self) -> &'static str {
        match self {
            ParquetError::FileTooSmall => "file is too small to be Parquet",
            ParquetError::TailLongerThanFile => "footer bytes are longer than the file",
            ParquetError::BadMagic => "file does not end with the Parquet magic PAR1",
            ParquetError::FooterLength => "Parquet footer length does not fit the file",
            ParquetError::FooterTooLarge => "Parquet footer is larger than the limit",
            ParquetError::CorruptFooter => "corrupt Parquet footer",
            ParquetError::InvalidSchema => "invalid Parquet schema",
            ParquetError::InvalidColumnMeta => "invalid Parquet column chunk metadata",
            ParquetError::CorruptPageHeader => "corrupt Parquet page header",
            ParquetError::PageTooLarge => "Parquet page is larger than the limit",
            ParquetError::PageSizeMismatch => "Parquet page size does not match its header",
            ParquetError::TruncatedPage => "Parquet page extends past the column chunk",
            ParquetError::TruncatedChunk => "Parquet column chunk ends before its last value",
            ParquetError::Decompress => "corrupt compressed Parquet page",
            ParquetError::CorruptLevels => "corrupt Parquet definition or repetition levels",
            ParquetError::CorruptValues => "corrupt Parquet values",
            ParquetError::CorruptPageIndex => "corrupt Parquet page index",
            ParquetError::MissingDictionary => "dictionary-encoded Parquet page without a dictionary",
            ParquetError::UnexpectedDictionary => "unexpected Parquet dictionary page",
            ParquetError::DictionaryIndex => "Parquet dictionary index out of range",
            ParquetError::ValueCountMismatch => "Parquet pages hold more values than the column chunk",
            ParquetError::TooManyValues => "Parquet column chunk has more values than the limit",
            ParquetError::Unsupported(_) => "unsupported Parquet feature",
        }
    }
}

impl fmt::Display for ParquetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParquetError::Unsupported(what) => write!(f, "{}: {what}", self.description()),
            _ => f.write_str(self.description()),
        }
    }
}

impl std::error::Error for ParquetError {}

/// Why [`parse_footer`](super::parse_footer) returned no footer: more bytes are needed, or the
/// file is not valid Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FooterNeeds {
    /// The footer starts before the tail: read `length` bytes at `offset` (they end exactly where
    /// the tail starts), put them in front of the tail and call again.
    More {
        /// File offset of the first missing byte.
        offset: u64,
        /// Number of missing bytes.
        length: u64,
    },
    /// The file is not valid (or not supported) Parquet.
    Invalid(ParquetError),
}

impl From<ParquetError> for FooterNeeds {
    fn from(e: ParquetError) -> Self {
        FooterNeeds::Invalid(e)
    }
}

impl fmt::Display for FooterNeeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FooterNeeds::More { offset, length } => {
                write!(f, "need {length} more bytes of the Parquet footer from offset {offset}")
            }
            FooterNeeds::Invalid(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for FooterNeeds {}
