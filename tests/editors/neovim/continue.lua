--- `:GalacticaContinue` at the end of a line: the server writes the rest of the paragraph into the
--- buffer through workspace/applyEdit. Input: {file, text, line} (1-based).
local H = dofile(vim.env.GALACTICA_HARNESS)
local I = H.input

H.run(function()
  H.setup()
  local buf = H.open(I.file, I.text)
  local before = H.text(buf)
  vim.api.nvim_win_set_cursor(0, { I.line, 0 })
  H.type('$:GalacticaContinue<CR>')
  H.wait(20000, function() return H.text(buf) ~= before end, 'the paragraph to be continued')
  H.sleep(200)
  H.seen.text = H.text(buf)
end)
