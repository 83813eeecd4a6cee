"""The seed's PluginPackageBuilder (004, section 6.3.1), verbatim."""
# create_plugin_package.py
import json
import zipfile
from pathlib import Path
from typing import Dict, Any, Optional

class PluginPackageBuilder:
    def __init__(self, plugin_name: str, version: str):
        self.plugin_name = plugin_name
        self.version = version
        self.files = []
        self.plugin_config = {
            "name": plugin_name,
            "version": version,
            "main": "",
            "entryClass": ""
        }

    def set_main_dll(self, dll_name: str, entry_class: str):
        """设置主 DLL 信息"""
        self.plugin_config["main"] = dll_name
        self.plugin_config["entryClass"] = entry_class
        return self

    def set_metadata(self, display_name: str = "", description: str = "",
                    author: str = "", license: str = "",
                    homepage: str = "", changelog: str = ""):
        """设置插件元数据"""
        if display_name:
            self.plugin_config["displayName"] = display_name
        if description:
            self.plugin_config["description"] = description
        if author:
            self.plugin_config["author"] = author
        if license:
            self.plugin_config["license"] = license
        if homepage:
            self.plugin_config["homepage"] = homepage
        if changelog:
            self.plugin_config["changelog"] = changelog
        return self

    def set_dependencies(self, dependencies: Dict[str, str]):
        """设置依赖关系"""
        self.plugin_config["dependencies"] = dependencies
        return self

    def set_engines(self, engines: Dict[str, str]):
        """设置引擎要求"""
        self.plugin_config["engines"] = engines
        return self

    def add_file(self, file_path: Path, arcname: Optional[str] = None):
        """添加文件到插件包"""
        if not file_path.exists():
            raise FileNotFoundError(f"文件不存在: {file_path}")

        self.files.append({
            'path': file_path,
            'arcname': arcname or file_path.name
        })
        return self

    def add_directory(self, dir_path: Path, arcname: Optional[str] = None):
        """添加目录到插件包"""
        if not dir_path.exists() or not dir_path.is_dir():
            raise ValueError(f"目录不存在或不是有效目录: {dir_path}")

        for file_path in dir_path.rglob('*'):
            if file_path.is_file():
                relative_path = file_path.relative_to(dir_path)
                arc_path = f"{arcname or dir_path.name}/{relative_path}"
                self.add_file(file_path, arc_path)

        return self

    def build(self, output_path: Path) -> Path:
        """构建插件包"""
        # 验证必需配置
        if not self.plugin_config["main"]:
            raise ValueError("必须设置主 DLL 文件名")
        if not self.plugin_config["entryClass"]:
            raise ValueError("必须设置入口类名")

        # 确保输出目录存在
        output_path.parent.mkdir(parents=True, exist_ok=True)

        # 创建 ZIP 文件
        with zipfile.ZipFile(output_path, 'w', zipfile.ZIP_DEFLATED) as zf:
            # 添加 plugin.json
            plugin_json_content = json.dumps(self.plugin_config, indent=2, ensure_ascii=False)
            zf.writestr('plugin.json', plugin_json_content)

            # 添加文件
            for file_info in self.files:
                zf.write(file_info['path'], file_info['arcname'])

        return output_path

