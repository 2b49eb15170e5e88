"""The constructor example of PaddleSlim 2.6.0's MedianStop API page
(docs/zh_cn/api_cn/static/nas/early_stop.rst), in our own words: a search over
MobileNetV2Space that saves nothing, and a median rule that judges it from epoch 2 on.
A loopback address and a free port instead of the page's fixed one."""

from paddleslim.nas import SANAS
from paddleslim.nas.early_stop import MedianStop

controller = SANAS([("MobileNetV2Space")], server_addr=("127.0.0.1", 0), save_checkpoint=None)
rule = MedianStop(controller, start_epoch=2)
print("CREATED", type(rule).__name__)
