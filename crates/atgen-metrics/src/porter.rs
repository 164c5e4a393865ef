//! The Porter stemmer exactly as NLTK 3.9.1 runs it by default
//! (`PorterStemmer()`, mode `NLTK_EXTENSIONS`), which is what `rouge-score`
//! 0.1.2 uses when `use_stemmer=True`.
//!
//! Every step below is a line-by-line port of `nltk/stem/porter.py`, including
//! its deviations from the 1980 paper: the irregular-forms pool (`skies` ->
//! `sky`, `dying` -> `die`, ...), `ies`/`ied` of four letters, `y` -> `i` only
//! after a consonant, `alli` recursion in step 2, the `fulli` and `logi`
//! rules, `bli` -> `ble`, and the two-letter `*o` condition. A rule list stops
//! at the first rule whose suffix matches, even when its condition fails, as in
//! NLTK's `_apply_rule_list`. NLTK keeps no cache; [`crate::rouge`] caches
//! stems per thread, which changes speed, never results.
//!
//! ```
//! use atgen_metrics::porter::stem;
//! assert_eq!(stem("caresses"), "caress");
//! assert_eq!(stem("generalization"), "gener");
//! assert_eq!(stem("dying"), "die");
//! ```

use crate::pytext::py_lower;

/// Stems one word (lowercasing it first), as `nltk.stem.PorterStemmer().stem(word)`.
pub fn stem(word: &str) -> String {
    let lower = py_lower(word);
    if let Some(base) = irregular(word) {
        return base.to_string();
    }
    if word.chars().count() <= 2 {
        return lower;
    }
    let mut w: Vec<char> = lower.chars().collect();
    w = step1a(w);
    w = step1b(w);
    w = step1c(w);
    w = step2(w);
    w = step3(w);
    w = step4(w);
    w = step5a(w);
    w = step5b(w);
    w.into_iter().collect()
}

/// NLTK's `pool` of irregular forms (looked up with the word as given).
fn irregular(word: &str) -> Option<&'static str> {
    Some(match word {
        "sky" | "skies" => "sky",
        "dying" => "die",
        "lying" => "lie",
        "tying" => "tie",
        "news" => "news",
        "innings" | "inning" => "inning",
        "outings" | "outing" => "outing",
        "cannings" | "canning" => "canning",
        "howe" => "howe",
        "proceed" => "proceed",
        "exceed" => "exceed",
        "succeed" => "succeed",
        _ => return None,
    })
}

fn is_cons(w: &[char], i: usize) -> bool {
    // Iterative form of NLTK's recursion: a `y` is a consonant at the start of
    // the word or after a vowel, so a run of `y`s alternates.
    let mut odd_flips = false;
    let mut j = i;
    loop {
        match w[j] {
            'a' | 'e' | 'i' | 'o' | 'u' => return odd_flips,
            'y' if j == 0 => return !odd_flips,
            'y' => {
                odd_flips = !odd_flips;
                j -= 1;
            }
            _ => return !odd_flips,
        }
    }
}

/// Consonant flags of every position in one left-to-right pass (linear even
/// for long runs of `y`, where calling [`is_cons`] per position would not be).
fn cons_flags(w: &[char]) -> impl Iterator<Item = bool> + '_ {
    let mut prev_cons = false;
    w.iter().enumerate().map(move |(i, &c)| {
        let cons = match c {
            'a' | 'e' | 'i' | 'o' | 'u' => false,
            'y' => i == 0 || !prev_cons,
            _ => true,
        };
        prev_cons = cons;
        cons
    })
}

fn measure(w: &[char]) -> usize {
    let mut m = 0;
    let mut prev_vowel = false;
    for c in cons_flags(w) {
        if c && prev_vowel {
            m += 1;
        }
        prev_vowel = !c;
    }
    m
}

fn contains_vowel(w: &[char]) -> bool {
    cons_flags(w).any(|c| !c)
}

fn ends_double_consonant(w: &[char]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_cons(w, n - 1)
}

fn ends_cvc(w: &[char]) -> bool {
    let n = w.len();
    (n >= 3
        && is_cons(w, n - 3)
        && !is_cons(w, n - 2)
        && is_cons(w, n - 1)
        && !matches!(w[n - 1], 'w' | 'x' | 'y'))
        || (n == 2 && !is_cons(w, 0) && is_cons(w, 1))
}

fn ends(w: &[char], suffix: &str) -> bool {
    let n = suffix.len(); // suffixes are ASCII: bytes == chars
    w.len() >= n && w[w.len() - n..].iter().copied().eq(suffix.chars())
}

fn join(stem: &[char], replacement: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(stem.len() + replacement.len());
    out.extend_from_slice(stem);
    out.extend(replacement.chars());
    out
}

type Cond<'a> = Option<&'a dyn Fn(&[char]) -> bool>;

/// A suffix rule; `None` as suffix stands for NLTK's `"*d"` (double consonant).
struct Rule<'a>(Option<&'a str>, &'a str, Cond<'a>);

fn apply_rules(word: Vec<char>, rules: &[Rule<'_>]) -> Vec<char> {
    for Rule(suffix, replacement, cond) in rules {
        let cut = match suffix {
            None if ends_double_consonant(&word) => 2,
            Some(s) if ends(&word, s) => s.len(),
            _ => continue,
        };
        let stem = &word[..word.len() - cut];
        return if cond.is_none_or(|c| c(stem)) {
            join(stem, replacement)
        } else {
            word
        };
    }
    word
}

fn positive(stem: &[char]) -> bool {
    measure(stem) > 0
}

fn step1a(w: Vec<char>) -> Vec<char> {
    if ends(&w, "ies") && w.len() == 4 {
        return join(&w[..1], "ie");
    }
    apply_rules(
        w,
        &[
            Rule(Some("sses"), "ss", None),
            Rule(Some("ies"), "i", None),
            Rule(Some("ss"), "ss", None),
            Rule(Some("s"), "", None),
        ],
    )
}

fn step1b(w: Vec<char>) -> Vec<char> {
    if ends(&w, "ied") {
        let repl = if w.len() == 4 { "ie" } else { "i" };
        return join(&w[..w.len() - 3], repl);
    }
    if ends(&w, "eed") {
        let stem = &w[..w.len() - 3];
        return if measure(stem) > 0 {
            join(stem, "ee")
        } else {
            w
        };
    }
    let mut inter = None;
    for suffix in ["ed", "ing"] {
        if ends(&w, suffix) {
            let stem = &w[..w.len() - suffix.len()];
            if contains_vowel(stem) {
                inter = Some(stem.to_vec());
                break;
            }
        }
    }
    let Some(inter) = inter else { return w };
    // `contains_vowel` held, so the stem is not empty.
    let last = inter[inter.len() - 1];
    let last_s = last.to_string();
    let keep_double = move |_: &[char]| !matches!(last, 'l' | 's' | 'z');
    let add_e = |stem: &[char]| measure(stem) == 1 && ends_cvc(stem);
    apply_rules(
        inter,
        &[
            Rule(Some("at"), "ate", None),
            Rule(Some("bl"), "ble", None),
            Rule(Some("iz"), "ize", None),
            Rule(None, &last_s, Some(&keep_double)),
            Rule(Some(""), "e", Some(&add_e)),
        ],
    )
}

fn step1c(w: Vec<char>) -> Vec<char> {
    let cond = |stem: &[char]| stem.len() > 1 && is_cons(stem, stem.len() - 1);
    apply_rules(w, &[Rule(Some("y"), "i", Some(&cond))])
}

fn step2(w: Vec<char>) -> Vec<char> {
    if ends(&w, "alli") && positive(&w[..w.len() - 4]) {
        return step2(join(&w[..w.len() - 4], "al"));
    }
    let p: &dyn Fn(&[char]) -> bool = &positive;
    let logi_word = w.clone();
    let logi = move |_: &[char]| positive(&logi_word[..logi_word.len() - 3]);
    apply_rules(
        w,
        &[
            Rule(Some("ational"), "ate", Some(p)),
            Rule(Some("tional"), "tion", Some(p)),
            Rule(Some("enci"), "ence", Some(p)),
            Rule(Some("anci"), "ance", Some(p)),
            Rule(Some("izer"), "ize", Some(p)),
            Rule(Some("bli"), "ble", Some(p)),
            Rule(Some("alli"), "al", Some(p)),
            Rule(Some("entli"), "ent", Some(p)),
            Rule(Some("eli"), "e", Some(p)),
            Rule(Some("ousli"), "ous", Some(p)),
            Rule(Some("ization"), "ize", Some(p)),
            Rule(Some("ation"), "ate", Some(p)),
            Rule(Some("ator"), "ate", Some(p)),
            Rule(Some("alism"), "al", Some(p)),
            Rule(Some("iveness"), "ive", Some(p)),
            Rule(Some("fulness"), "ful", Some(p)),
            Rule(Some("ousness"), "ous", Some(p)),
            Rule(Some("aliti"), "al", Some(p)),
            Rule(Some("iviti"), "ive", Some(p)),
            Rule(Some("biliti"), "ble", Some(p)),
            Rule(Some("fulli"), "ful", Some(p)),
            Rule(Some("logi"), "log", Some(&logi)),
        ],
    )
}

fn step3(w: Vec<char>) -> Vec<char> {
    let p: &dyn Fn(&[char]) -> bool = &positive;
    apply_rules(
        w,
        &[
            Rule(Some("icate"), "ic", Some(p)),
            Rule(Some("ative"), "", Some(p)),
            Rule(Some("alize"), "al", Some(p)),
            Rule(Some("iciti"), "ic", Some(p)),
            Rule(Some("ical"), "ic", Some(p)),
            Rule(Some("ful"), "", Some(p)),
            Rule(Some("ness"), "", Some(p)),
        ],
    )
}

fn step4(w: Vec<char>) -> Vec<char> {
    let gt1 = |stem: &[char]| measure(stem) > 1;
    let ion = |stem: &[char]| measure(stem) > 1 && matches!(stem.last(), Some('s' | 't'));
    let g: &dyn Fn(&[char]) -> bool = &gt1;
    let rules: Vec<Rule<'_>> = [
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion",
        "ou", "ism", "ate", "iti", "ous", "ive", "ize",
    ]
    .into_iter()
    .map(|s| {
        let cond: &dyn Fn(&[char]) -> bool = if s == "ion" { &ion } else { g };
        Rule(Some(s), "", Some(cond))
    })
    .collect();
    apply_rules(w, &rules)
}

fn step5a(w: Vec<char>) -> Vec<char> {
    if ends(&w, "e") {
        let stem = &w[..w.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_vec();
        }
    }
    w
}

fn step5b(w: Vec<char>) -> Vec<char> {
    let word = w.clone();
    let cond = move |_: &[char]| !word.is_empty() && measure(&word[..word.len() - 1]) > 1;
    apply_rules(w, &[Rule(Some("ll"), "l", Some(&cond))])
}

#[cfg(test)]
mod tests {
    use super::stem;

    // Python (nltk 3.9.1):
    // >>> from nltk.stem.porter import PorterStemmer; s = PorterStemmer()
    // >>> [s.stem(w) for w in words]
    #[test]
    fn matches_nltk_on_classic_words() {
        let cases = [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"),
            ("cats", "cat"),
            ("feed", "feed"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("sing", "sing"),
            ("conflated", "conflat"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("filing", "file"),
            ("happy", "happi"),
            ("relational", "relat"),
            ("generalization", "gener"),
            ("electricity", "electr"),
            ("hopeful", "hope"),
            ("goodness", "good"),
            ("adoption", "adopt"),
            ("controll", "control"),
            ("skies", "sky"),
            ("dying", "die"),
            ("enjoy", "enjoy"),
            ("analogousli", "analog"),
            ("biology", "biolog"),
            ("syzygy", "syzygi"),
            ("yyyy", "yyyi"),
            ("eing", "e"),
            ("1990s", "1990"),
            ("ÉCOLE", "école"),
        ];
        for (w, want) in cases {
            assert_eq!(stem(w), want, "stem({w:?})");
        }
    }

    #[test]
    fn short_and_odd_words_do_not_panic() {
        for w in [
            "", "a", "ed", "ing", "eing", "yed", "1990s", "ÉCOLE", "ﬁ", "zzz",
        ] {
            let _ = stem(w);
        }
        assert_eq!(stem("ab"), "ab");
        // Linear time on a long run of `y` (NLTK itself would hit its recursion limit).
        let long = "y".repeat(200_000) + "s";
        assert_eq!(stem(&long).len(), 200_000);
    }
}
