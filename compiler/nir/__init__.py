"""The NIR path: discretisation of NIR neurons (:mod:`.discretize`), the float reference simulator
(:mod:`.reference`) and the export of a compiled image back to a NIR graph (:mod:`.export`)."""
