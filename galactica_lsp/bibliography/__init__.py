"""The user's bibliography: which ``.bib`` files a document uses, what they hold, and writing to them.

Pure functions, no LSP:

- ``find``: the ``.bib`` files for a document (``\\bibliography{}``,
  ``\\addbibresource{}``, front-matter ``bibliography:``, the setting, then
  ``*.bib`` nearby);
- ``parse``: a ``.bib`` file's entries as text (bibtexparser 2, pylatexenc),
  and its malformed blocks with line numbers;
- ``match``: a suggested "Title, Author" against the entries (rapidfuzz);
- ``keys``: the citation keys a document cites, and the syntax that cites a key
  at a given place;
- ``stub``: a new ``@misc`` entry appended to a ``.bib`` file, the rest of the
  file kept byte for byte.
"""
