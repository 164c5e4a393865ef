//! Turning a model's raw answer into a label.

/// Strips reasoning (`<think>...</think>`, also an unclosed `<think>` or a
/// lone `</think>` left by a chat template that opened the block in the
/// prompt) and surrounding whitespace; `None` when nothing is left.
pub fn clean_label(raw: &str) -> Option<String> {
    const OPEN: &str = "<think>";
    const CLOSE: &str = "</think>";
    let mut text = raw;
    // A template may open the block in the prompt: everything before the last
    // lone closing tag is reasoning.
    if let Some(close) = text.rfind(CLOSE) {
        if !text[..close].contains(OPEN) {
            text = &text[close + CLOSE.len()..];
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        match rest[start..].find(CLOSE) {
            Some(end) => rest = &rest[start + end + CLOSE.len()..],
            // Unclosed: the model ran out of tokens while thinking.
            None => rest = "",
        }
    }
    out.push_str(rest);
    let trimmed = out.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::clean_label;

    #[test]
    fn strips_reasoning_blocks_and_whitespace() {
        assert_eq!(
            clean_label("<think>\nlet me see\n</think>\n\n 42 \n").as_deref(),
            Some("42")
        );
        assert_eq!(
            clean_label("a <think>x</think>b<think>y</think> c").as_deref(),
            Some("a b c")
        );
        assert_eq!(
            clean_label("reasoning without opening</think>answer").as_deref(),
            Some("answer")
        );
    }

    #[test]
    fn nothing_left_is_no_label() {
        assert_eq!(clean_label("   \n"), None);
        assert_eq!(clean_label("<think>still thinking when cut"), None);
        assert_eq!(clean_label("<think>done</think>  "), None);
    }

    #[test]
    fn plain_text_is_kept() {
        assert_eq!(
            clean_label("  keep <b>tags</b> ").as_deref(),
            Some("keep <b>tags</b>")
        );
    }
}
