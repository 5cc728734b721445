"""The user's bibliography: which files a document uses, what they hold, and writing to them.

Pure functions, no LSP:

- ``find``: the bibliography files for a document (``\\bibliography{}``,
  ``\\addbibresource{}``, front-matter ``bibliography:``, the setting, then
  ``*.bib`` nearby), and every named one that cannot be used, with the reason;
- ``files``: the one way files are read and appended to: regular files only,
  at most 64 MiB, never read past that, text not binary; and ``FileStamp``,
  a version of a file including a hash of its content;
- ``parse``: a bibliography file's entries, whatever its format (``bibtex``:
  BibTeX and biblatex with bibtexparser 2 and pylatexenc; ``csl``: CSL-JSON and
  CSL-YAML), and its problems with line numbers; ``model``: the types;
- ``match``: a suggested "Title, Author" against the entries (rapidfuzz);
- ``keys``: the citation keys a document cites, and the syntax that cites a key
  at a given place;
- ``stub``: a new ``@misc`` entry appended to a ``.bib`` file, the rest of the
  file kept byte for byte.
"""
