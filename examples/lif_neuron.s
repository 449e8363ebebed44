; One leaky integrate-and-fire neuron (docs/examples.md, "LIF neuron").
; LEAK by 0.75 (decay 49152 / 65536), then +50 from the step's input event, then FIRE at 100 with reset
; to 0: membranes 50, 88, 116 -> spike, so it fires at steps 2, 5 and 8.
.chip cores=1
.core 0
    leak neuron=0, count=1
    acc  neuron=0, count=1, wbase=0
    fire neuron=0, count=1, shift=0, reset=value, graded=0
    halt
.weights 0: 50
.neuron 0 threshold=100 reset=0 init=0 decay=49152 fanout_start=0 fanout_count=1
.fanout 0: host:0
