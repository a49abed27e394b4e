//! ASCII sparklines for `LATENCY GRAPH`, drawn as Redis draws them: each value is a column of
//! `rows` characters, each character a third of a row (`_`, `o`, `#`, and `|` for a full row
//! beneath), scaled between the lowest and highest value; under the plot, after a blank line,
//! each column's label written downwards.

/// Characters for the lowest, middle and highest third of a row.
const LEVELS: [char; 3] = ['_', 'o', '#'];

/// Draws `values` (labelled by `labels`, one each) `columns` to a block, `rows` high; blocks
/// after the first are separated by an empty line.
pub fn render(values: &[u64], labels: &[String], columns: usize, rows: usize) -> String {
    let low = values.iter().copied().min().unwrap_or(0);
    let high = values.iter().copied().max().unwrap_or(0);
    let mut out = String::new();
    for (block, start) in (0..values.len()).step_by(columns.max(1)).enumerate() {
        if block > 0 {
            out.push('\n');
        }
        let end = (start + columns).min(values.len());
        render_block(
            &mut out,
            &values[start..end],
            &labels[start..end.min(labels.len())],
            (low, high),
            rows,
        );
    }
    out
}

/// Draws one block of columns.
fn render_block(
    out: &mut String,
    values: &[u64],
    labels: &[String],
    (low, high): (u64, u64),
    rows: usize,
) {
    let levels = LEVELS.len() * rows;
    let range = match high - low {
        0 => 1.0,
        range => range as f64,
    };
    // Each value's height, in thirds of a row: 0 ..= levels - 1.
    let heights: Vec<usize> = values
        .iter()
        .map(|&v| (((v - low) as f64 * levels as f64 / range) as usize).min(levels - 1))
        .collect();
    for row in 0..rows {
        // The thirds below this row.
        let below = (rows - row - 1) * LEVELS.len();
        let line: String = heights
            .iter()
            .map(|&height| match height.checked_sub(below) {
                Some(third) if third < LEVELS.len() => LEVELS[third],
                Some(_) => '|',
                None => ' ',
            })
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
    let longest = labels.iter().map(String::len).max().unwrap_or(0);
    if longest == 0 {
        return;
    }
    out.push_str(&" ".repeat(values.len()));
    out.push('\n');
    for position in 0..longest {
        let line: String = labels
            .iter()
            .map(|label| label.as_bytes().get(position).map_or(' ', |&b| b as char))
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_samples_as_redis_draws_them() {
        let labels: Vec<String> = ["3s", "2s", "1s"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            render(&[30, 60, 90], &labels, 80, 4),
            "  #\n _|\n ||\n_||\n   \n321\nsss\n"
        );
    }

    #[test]
    fn equal_values_sit_on_the_bottom_and_long_series_wrap() {
        let values = vec![5; 100];
        let labels = vec!["1s".to_string(); 100];
        let drawn = render(&values, &labels, 80, 4);
        let blocks: Vec<&str> = drawn.split("\n\n").collect();
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].starts_with(&format!("{}\n", " ".repeat(80))));
        assert!(blocks[0].contains(&"_".repeat(80)));
        assert!(blocks[1].contains(&"_".repeat(20)));
    }
}
