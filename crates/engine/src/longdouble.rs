//! TEMPORARY stand-in while the 80-bit implementation is being written (replaced before commit).
pub(crate) fn incr_by_float(current: &[u8], incr: &[u8]) -> Result<Vec<u8>, crate::CommandError> {
    let a = crate::args::parse_f64(current)?;
    let b = crate::args::parse_f64(incr)?;
    Ok(format!("{}", a + b).into_bytes())
}
