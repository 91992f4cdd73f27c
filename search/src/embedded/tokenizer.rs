//! tantivy tokenizers over the shared text streams.

use tantivy::Index;
use tantivy::tokenizer::{
    LowerCaser, SimpleTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

use crate::text::{Stream, analyze};

pub(super) const WORDS: &str = "fq_words";
pub(super) const GRAMS: &str = "fq_grams";
pub(super) const PINYIN: &str = "fq_pinyin";
pub(super) const CODE_PARTS: &str = "fq_code_parts";

/// One of the shared streams as a tantivy tokenizer.
#[derive(Clone)]
pub(super) struct StreamTokenizer {
    stream: Stream,
    tokens: Vec<Token>,
}

impl StreamTokenizer {
    fn new(stream: Stream) -> StreamTokenizer {
        StreamTokenizer {
            stream,
            tokens: Vec::new(),
        }
    }
}

pub(super) struct StreamTokens<'a> {
    tokens: &'a mut Vec<Token>,
    next: usize,
    blank: Token,
}

impl Tokenizer for StreamTokenizer {
    type TokenStream<'a> = StreamTokens<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> StreamTokens<'a> {
        self.tokens.clear();
        self.tokens
            .extend(analyze(text, self.stream).into_iter().map(|piece| Token {
                offset_from: piece.from,
                offset_to: piece.to,
                position: piece.position,
                text: piece.text,
                position_length: 1,
            }));
        StreamTokens {
            tokens: &mut self.tokens,
            next: 0,
            blank: Token::default(),
        }
    }
}

impl TokenStream for StreamTokens<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        self.next
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .unwrap_or(&self.blank)
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.next.checked_sub(1) {
            Some(i) if i < self.tokens.len() => &mut self.tokens[i],
            _ => &mut self.blank,
        }
    }
}

/// Registers the tokenizers the schema names; an index must have them before it is written or read.
pub(super) fn register(index: &Index) {
    let manager = index.tokenizers();
    manager.register(WORDS, StreamTokenizer::new(Stream::Words));
    manager.register(GRAMS, StreamTokenizer::new(Stream::Grams));
    manager.register(PINYIN, StreamTokenizer::new(Stream::Pinyin));
    manager.register(
        CODE_PARTS,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_tokens_with_positions_and_offsets() {
        let mut tokenizer = StreamTokenizer::new(Stream::Grams);
        let mut stream = tokenizer.token_stream("糾紛");
        let mut seen = Vec::new();
        while let Some(token) = stream.next() {
            seen.push((
                token.text.clone(),
                token.position,
                token.offset_from,
                token.offset_to,
            ));
        }
        assert_eq!(
            seen,
            [
                ("纠".to_owned(), 0, 0, 3),
                ("纠纷".to_owned(), 0, 0, 6),
                ("纷".to_owned(), 1, 3, 6)
            ]
        );
    }
}
