//! The reader's edge cases: names across formats, bad lines, special values, duplicates.

use super::*;

#[test]
fn text_and_openmetrics_name_families_alike() {
    let text = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\n\
                # TYPE i gauge\ni_info{v=\"1\"} 1\n";
    let om = "# HELP a A.\n# TYPE a counter\na_total{x=\"1\"} 1\na_created{x=\"1\"} 5\n\
              # TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n";
    let names = |t: &str| -> Vec<String> {
        let e = parse(t);
        assert!(e.errors.is_empty(), "{:?}", e.errors);
        e.families.iter().map(|f| f.name.clone()).collect()
    };
    assert_eq!(names(om), vec!["a_total", "i_info"]);
    // In text, `i_info` is its own (untyped) family; the gauge `i` has no samples.
    assert_eq!(names(text), vec!["a_total", "i_info"]);
}

#[test]
fn summaries_stay_one_family_and_unknown_suffixes_make_their_own() {
    let e = parse("# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\ns_bucket 1\n");
    assert_eq!(e.families.len(), 2);
    assert_eq!(e.families[0].samples.len(), 3);
    assert_eq!(e.families[1].name, "s_bucket");
    assert_eq!(e.families[0].series_keys().len(), 1);
}

#[test]
fn bad_lines_are_reported_with_their_number_and_the_rest_is_read() {
    let e = parse(
        "a 1\nb{x=\"1} 2\nc{x=\"\\q\"} 3\n9bad 1\nd x\ne 1 notatime\nf{x=\"1\",x=\"2\"} 1\ng 2\n",
    );
    let lines: Vec<usize> = e.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6, 7], "{:?}", e.errors);
    let names: Vec<&str> = e.families.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["a", "g"]);
}

#[test]
fn special_values_timestamps_and_trailing_commas_are_read() {
    let e = parse("a{x=\"1\",} +Inf 123\nb -Inf\nc NaN\nd 1e-3\n");
    assert!(e.errors.is_empty(), "{:?}", e.errors);
    assert_eq!(e.families[0].samples[0].value, f64::INFINITY);
    assert_eq!(e.families[1].samples[0].value, f64::NEG_INFINITY);
    assert!(e.families[2].samples[0].value.is_nan());
    assert_eq!(e.families[3].samples[0].value, 0.001);
}

#[test]
fn repeated_metadata_and_series_are_duplicates() {
    let e = parse(
        "# HELP a A.\n# HELP a again\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n\
         # TYPE b gauge\n# TYPE b gauge\nb 1\n",
    );
    let whats: Vec<(&str, usize)> = e
        .duplicates
        .iter()
        .map(|d| (d.family.as_str(), d.line))
        .collect();
    assert_eq!(
        whats,
        vec![("a", 2), ("b", 7), ("a", 5)],
        "{:?}",
        e.duplicates
    );
}

#[test]
fn content_after_eof_is_an_error() {
    let e = parse("a 1\n# EOF\nb 2\n");
    assert_eq!(e.format, Format::OpenMetrics);
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].line, 3);
}
