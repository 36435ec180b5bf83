"""The condition language: parse (Lark at the border) -> nodes -> check -> closures / interpreter."""
