"""FHIR R4 scheduling facade (IHE ITI Scheduling: $find, $hold, $book) over the same engine,
holds and booking path as the partner API. See docs/fhir.md."""
