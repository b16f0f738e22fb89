//! Adj-RIB-In, Loc-RIB and the decision process (RFC 4271 §9).
