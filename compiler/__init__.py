"""SpikeCore compiler: frontends -> passes -> the binary image (a ground format, :mod:`spikecore.image`).

- :mod:`.frontends` — a PyTorch module or a NIR graph to the float IR (:mod:`.ir`)
- :mod:`.quantize`, :mod:`.nir.discretize` — float IR to integers; :mod:`.place` — layers to cores;
  :mod:`.codegen` — cores to instructions; :mod:`.pipeline` — the whole chain; :mod:`.reference` — the
  integer reference of a quantised network; :mod:`.report` — the compile report
- :mod:`.nir` — the NIR path: discretisation, float reference, export back to NIR
- :mod:`.asm`, :mod:`.disasm` — the assembler and disassembler; :mod:`.toeplitz` — convolution as dense

Imports only the ground (:mod:`spikecore`), never the golden model, the RTL or what sits above them.
"""
