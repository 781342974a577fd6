"""Flows: modules that compose callables — pipeline, parallel, warp, switch, ifs, loop, bind."""
from ._barrier import barrier
from ._base import FlowBase
from ._bind import Bind, bind, placeholders
from ._diverter import Diverter, diverter
from ._graph import Graph, graph
from ._ifs import IfS, ifs
from ._loop import Loop, loop
from ._package import package
from ._parallel import Parallel, parallel
from ._pipeline import Pipeline, pipeline
from ._refs import save_pipeline_result
from ._switch import Switch, switch
from ._warp import Warp, warp

_0, _1, _2, _3, _4, _5, _6, _7, _8, _9 = placeholders

__all__ = ['FlowBase', 'Pipeline', 'pipeline', 'Parallel', 'parallel', 'Warp', 'warp',
           'Switch', 'switch', 'IfS', 'ifs', 'Loop', 'loop', 'Bind', 'bind', 'package',
           'Diverter', 'diverter', 'Graph', 'graph', 'barrier',
           'save_pipeline_result']
