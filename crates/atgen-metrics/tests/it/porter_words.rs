//! The Porter stemmer against nltk 3.9.1 on ~4,000 words from AESLC, GSM8K and
//! TriviaQA (`porter_words.json`: `[word, PorterStemmer().stem(word)]`).

use crate::{fixture, s};
use atgen_metrics::porter::stem;

#[test]
fn porter_matches_nltk_on_data_words() {
    let fx = fixture("porter_words.json");
    let words = fx["words"].as_array().expect("words");
    assert!(words.len() > 3000, "fixture too small: {}", words.len());
    let bad: Vec<String> = words
        .iter()
        .filter_map(|pair| {
            let (w, want) = (s(&pair[0]), s(&pair[1]));
            let got = stem(&w);
            (got != want).then(|| format!("{w}: got {got}, want {want}"))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} stems differ:\n{}",
        bad.len(),
        words.len(),
        bad.join("\n")
    );
}

#[test]
fn gsm8k_extraction_matches_the_number_after_hashes() {
    let fx = fixture("gsm8k_answers.json");
    let answers = fx["answers"].as_array().expect("answers");
    assert!(answers.len() >= 500);
    for pair in answers {
        let text = s(&pair[0]);
        let want = crate::f(&pair[1]);
        let got = atgen_metrics::extract::gsm8k_number(&text);
        assert_eq!(got, Some(want), "{text:?}");
    }
}
