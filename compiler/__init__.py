"""SpikeCore compiler: assembler, disassembler, binary image format, and (later) the model compiler."""
