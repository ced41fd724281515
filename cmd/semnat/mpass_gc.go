package main

// mpassGCPercent is the garbage collector's target of `semnat mpass serve`
// when $GOGC is not set. A SAML Response allocates about 250 KB (crewjam's
// and goxmldsig's element trees, exclusive canonicalisation's namespace
// maps, the serialised and base64 forms) while MPass's live heap is a few
// tens of MB (its state is in the store), so with Go's default of 100 the
// collector runs every few hundred Responses and takes about 0.4 of an
// RSA-2048 signature's CPU per Response (BenchmarkSSOResponse/redirect's
// CPU profile, issue 14); at 400 it takes about 0.13, some 10% of a
// Response's CPU, for a peak heap about 1.6 times as large (the benchmark
// process's peak RSS went from 76 to 123 MB). $GOGC and $GOMEMLIMIT still
// decide when set.
const mpassGCPercent = 400
