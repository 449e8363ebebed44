; One integrate-and-fire neuron (docs/examples.md, "IF neuron").
; Each step the host injects one event (axon 0, payload 1); weight 30 charges the membrane by 30.
; Threshold 100 with reset by subtraction: spikes at steps 3, 6 and 9, each delivered to the host.
.chip cores=1
.core 0
    acc  neuron=0, count=1, wbase=0
    fire neuron=0, count=1, shift=0, reset=sub, graded=0
    halt
.weights 0: 30
.neuron 0 threshold=100 reset=0 init=0 decay=0 fanout_start=0 fanout_count=1
.fanout 0: host:0
